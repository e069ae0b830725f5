package kube

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestNewValidatesPeerToken(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		secret  *corev1.SecretKeySelector
		wantErr string // "" means New succeeds
	}{
		{name: "token and secret", token: testToken, secret: testTokenSecret},
		{name: "neither"},
		{name: "a user-managed secret without a token", secret: testTokenSecret},
		{name: "token without secret", token: testToken, wantErr: "kube: Options.PeerToken is set but Options.PeerTokenSecret is nil"},
		{name: "bad secret name", token: testToken, secret: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "Peer_Token"}, Key: "token"},
			wantErr: `kube: Options.PeerTokenSecret.Name "Peer_Token" is not a valid Secret name`},
		{name: "empty key", token: testToken, secret: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "servekit-peer-token"}},
			wantErr: `kube: Options.PeerTokenSecret.Key "" is not a valid Secret key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Options{Client: fake.NewClientset(), QueueImage: "q", PeerToken: tt.token, PeerTokenSecret: tt.secret})
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("New error = %v, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("New error %q holds the token", err)
			}
		})
	}
}

// secretActions lists the fake's actions on Secrets as "verb namespace".
func secretActions(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		if a.GetResource().Resource == "secrets" {
			out = append(out, a.GetVerb()+" "+a.GetNamespace())
		}
	}
	return out
}

func peerSecret(data map[string]string, labels map[string]string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "servekit-peer-token", Namespace: "default", Labels: labels},
		Data:       map[string][]byte{},
	}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestPeerTokenSecret(t *testing.T) {
	managed := map[string]string{ManagedByLabelKey: ManagedByValue}
	secretsGR := schema.GroupResource{Resource: "secrets"}
	tests := []struct {
		name        string
		existing    *corev1.Secret
		setup       func(*fake.Clientset)
		wantData    map[string]string
		wantLabels  map[string]string
		wantActions []string
	}{{
		name:        "created when missing",
		wantData:    map[string]string{"token": testToken},
		wantLabels:  managed,
		wantActions: []string{"get default", "create default"},
	}, {
		name:        "updated when it differs, other keys and labels kept",
		existing:    peerSecret(map[string]string{"token": "old", "other": "kept"}, map[string]string{"team": "a"}),
		wantData:    map[string]string{"token": testToken, "other": "kept"},
		wantLabels:  map[string]string{"team": "a", ManagedByLabelKey: ManagedByValue},
		wantActions: []string{"get default", "update default"},
	}, {
		name:        "left alone when it holds the token",
		existing:    peerSecret(map[string]string{"token": testToken}, nil),
		wantData:    map[string]string{"token": testToken},
		wantActions: []string{"get default"},
	}, {
		name:     "created meanwhile by someone else: read again, then updated",
		existing: peerSecret(map[string]string{"token": "theirs"}, nil),
		setup: func(c *fake.Clientset) {
			var once atomic.Bool
			c.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
				if once.CompareAndSwap(false, true) {
					return true, nil, apierrors.NewNotFound(secretsGR, "servekit-peer-token")
				}
				return false, nil, nil
			})
		},
		wantData:    map[string]string{"token": testToken},
		wantLabels:  managed,
		wantActions: []string{"get default", "create default", "get default", "update default"},
	}, {
		name:     "a conflict on update is retried",
		existing: peerSecret(map[string]string{"token": "old"}, nil),
		setup: func(c *fake.Clientset) {
			var once atomic.Bool
			c.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
				if once.CompareAndSwap(false, true) {
					return true, nil, apierrors.NewConflict(secretsGR, "servekit-peer-token", errors.New("the object has been modified"))
				}
				return false, nil, nil
			})
		},
		wantData:    map[string]string{"token": testToken},
		wantLabels:  managed,
		wantActions: []string{"get default", "update default", "get default", "update default"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			if tt.existing != nil {
				objs = append(objs, tt.existing)
			}
			c := newFakeClient(objs...)
			if tt.setup != nil {
				tt.setup(c)
			}
			b := newTestBackend(t, c, func(o *Options) { o.PeerToken, o.PeerTokenSecret = testToken, testTokenSecret })
			if err := b.Apply(seedRevision(t)); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			s, err := c.CoreV1().Secrets("default").Get(context.Background(), "servekit-peer-token", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range s.Data {
				got[k] = string(v)
			}
			if diff := cmp.Diff(tt.wantData, got); diff != "" {
				t.Errorf("secret data (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLabels, s.Labels); diff != "" {
				t.Errorf("secret labels (-want +got):\n%s", diff)
			}
			n := len(secretActions(c)) - 1 // the test's own get
			if diff := cmp.Diff(tt.wantActions, secretActions(c)[:n]); diff != "" {
				t.Errorf("secret actions (-want +got):\n%s", diff)
			}

			// Not read again for another revision in the namespace; ensured in another one.
			if err := b.Apply(revisionNamed(t, "helloworld-go-00002")); err != nil {
				t.Fatal(err)
			}
			other := revisionNamed(t, "helloworld-go-00003")
			other.Namespace = "team-a"
			if err := b.Apply(other); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"get team-a", "create team-a"}, secretActions(c)[n+1:]); diff != "" {
				t.Errorf("secret actions of the next two Applies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPeerTokenSecretErrors(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "servekit-peer-token", errors.New("RBAC says no"))
	tests := []struct {
		name     string
		verb     string
		existing bool
		wantErr  string
	}{
		{"get forbidden", "get", false, "kube: revision default/helloworld-go-00001: peer-token secret default/servekit-peer-token: get: "},
		{"create forbidden", "create", false, "kube: revision default/helloworld-go-00001: peer-token secret default/servekit-peer-token: create: "},
		{"update forbidden", "update", true, "kube: revision default/helloworld-go-00001: peer-token secret default/servekit-peer-token: update: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			if tt.existing {
				objs = append(objs, peerSecret(map[string]string{"token": "old"}, nil))
			}
			c := newFakeClient(objs...)
			var failing atomic.Bool
			failing.Store(true)
			c.PrependReactor(tt.verb, "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
				if failing.Load() {
					return true, nil, forbidden
				}
				return false, nil, nil
			})
			b := newTestBackend(t, c, func(o *Options) { o.PeerToken, o.PeerTokenSecret = testToken, testTokenSecret })
			err := b.Apply(seedRevision(t))
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || !apierrors.IsForbidden(err) {
				t.Fatalf("Apply error = %v, want a Forbidden starting %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("Apply error %q holds the token", err)
			}
			if exists(t, c, "deployment", "default", "helloworld-go-00001-deployment") {
				t.Error("the Deployment was created without its peer-token Secret")
			}
			if err := b.Scale(seedKey, 1); err == nil {
				t.Error("Scale succeeded for a revision whose Apply failed")
			}
			// After an error the Secret is ensured again.
			failing.Store(false)
			if err := b.Apply(seedRevision(t)); err != nil {
				t.Fatalf("Apply once the API server allows it: %v", err)
			}
			s, err := c.CoreV1().Secrets("default").Get(context.Background(), "servekit-peer-token", metav1.GetOptions{})
			if err != nil || string(s.Data["token"]) != testToken {
				t.Errorf("secret = %v, %v; want the token", s, err)
			}
		})
	}
}

// A user-managed Secret: PeerTokenSecret without PeerToken writes no Secret.
func TestPeerTokenSecretWithoutTokenWritesNoSecret(t *testing.T) {
	c := newFakeClient()
	b := newTestBackend(t, c, func(o *Options) { o.PeerTokenSecret = testTokenSecret })
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	if got := secretActions(c); len(got) != 0 {
		t.Errorf("secret actions = %v, want none", got)
	}
}

// After any error creating a revision's children in a namespace (which may have been
// deleted and recreated), its Secret is ensured again.
func TestPeerTokenSecretEnsuredAgainAfterAnError(t *testing.T) {
	c := newFakeClient()
	var failing atomic.Bool
	c.PrependReactor("create", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("namespace default is being terminated"))
		}
		return false, nil, nil
	})
	b := newTestBackend(t, c, func(o *Options) { o.PeerToken, o.PeerTokenSecret = testToken, testTokenSecret })
	if err := b.Apply(seedRevision(t)); err != nil {
		t.Fatal(err)
	}
	// The namespace goes, Secret and all.
	if err := c.CoreV1().Secrets("default").Delete(context.Background(), "servekit-peer-token", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	if err := b.Apply(revisionNamed(t, "helloworld-go-00002")); !apierrors.IsForbidden(err) {
		t.Fatalf("Apply while the namespace terminates = %v, want Forbidden", err)
	}
	failing.Store(false)
	if err := b.Apply(revisionNamed(t, "helloworld-go-00003")); err != nil {
		t.Fatal(err)
	}
	want := []string{"get default", "create default", "delete default", "get default", "create default"}
	if diff := cmp.Diff(want, secretActions(c)); diff != "" {
		t.Errorf("secret actions (-want +got):\n%s", diff)
	}
}
