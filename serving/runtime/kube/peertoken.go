package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/retry"
)

// ManagedByLabelKey and ManagedByValue mark the Secrets the Backend writes.
const (
	ManagedByLabelKey = "app.kubernetes.io/managed-by"
	ManagedByValue    = "servekit"
)

// checkPeerToken validates Options.PeerToken and the Secret it goes into. The token
// itself is never part of an error.
func checkPeerToken(opts Options) error {
	if opts.PeerToken == "" {
		return nil
	}
	s := opts.PeerTokenSecret
	if s == nil {
		return errors.New("kube: Options.PeerToken is set but Options.PeerTokenSecret is nil: it names the Secret and key the token is written to")
	}
	if errs := validation.IsDNS1123Subdomain(s.Name); len(errs) > 0 {
		return fmt.Errorf("kube: Options.PeerTokenSecret.Name %q is not a valid Secret name: %s", s.Name, strings.Join(errs, "; "))
	}
	if errs := validation.IsConfigMapKey(s.Key); len(errs) > 0 {
		return fmt.Errorf("kube: Options.PeerTokenSecret.Key %q is not a valid Secret key: %s", s.Key, strings.Join(errs, "; "))
	}
	return nil
}

// ensurePeerToken makes the namespace's Secret PeerTokenSecret.Name hold PeerToken
// under PeerTokenSecret.Key, once per namespace (again after a failure, or after
// becoming the leader again). Nothing to do without Options.PeerToken.
func (b *Backend) ensurePeerToken(ctx context.Context, namespace string) error {
	if b.opts.PeerToken == "" {
		return nil
	}
	b.mu.Lock()
	done := b.mu.tokens[namespace]
	b.mu.Unlock()
	if done {
		return nil
	}
	name, key, token := b.opts.PeerTokenSecret.Name, b.opts.PeerTokenSecret.Key, []byte(b.opts.PeerToken)
	secrets := b.client.CoreV1().Secrets(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = secrets.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{ManagedByLabelKey: ManagedByValue}},
				Type:       corev1.SecretTypeOpaque,
				Data:       map[string][]byte{key: token},
			}, metav1.CreateOptions{})
			if err == nil {
				return nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("create: %w", err)
			}
			s, err = secrets.Get(ctx, name, metav1.GetOptions{}) // created meanwhile
		}
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		if string(s.Data[key]) == string(token) {
			return nil
		}
		s = s.DeepCopy()
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[key] = token
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[ManagedByLabelKey] = ManagedByValue
		if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("peer-token secret %s/%s: %w", namespace, name, err)
	}
	b.mu.Lock()
	b.mu.tokens[namespace] = true
	b.mu.Unlock()
	return nil
}
