package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/ingress"
	"github.com/servekit/servekit/serving/v1beta1"
)

// SecretsClusterRole is the ClusterRole of config/deploy that lets the
// controller read Secrets (get) where a RoleBinding binds it: in the namespaces
// whose DomainMappings name TLS Secrets.
const SecretsClusterRole = "servekit-domainmapping-secrets"

// DefaultSecretInterval is how often the Secrets that DomainMappings name are
// read again when Options.SecretInterval is zero.
const DefaultSecretInterval = 10 * time.Second

// secretCertificates are the certificates of the Kubernetes TLS Secrets that
// DomainMappings name (spec.tls.secretName, Knative's "bring your own
// certificate"), served by the HTTPS ingress for the mappings' hosts
// (ingress.CertificateSource), and the DomainMapping reconciler's view of them
// and of the certificate files (controller.DomainCertificates).
//
// Least privilege: it reads only the Secrets the DomainMappings holding their
// hosts name, each by name (GET), when a mapping first names it and then every
// interval; it never lists or watches Secrets. The controller's RBAC
// (config/deploy) lets it read no Secret but its own: a namespace whose mappings
// name Secrets binds the ClusterRole servekit-domainmapping-secrets (get) to it;
// without, the mapping says so (SecretForbidden).
type secretCertificates struct {
	// get reads one Secret (the clientset's Secrets(ns).Get).
	get func(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	// files are the HTTPS ingress's certificate files (a mapping without
	// spec.tls is served when they cover its host).
	files    *ingress.Certificates
	interval time.Duration
	timeout  time.Duration // of each read
	log      *slog.Logger
	// changed tells the controller that a mapping's certificate may have
	// changed (controller.CertificatesChanged); set before Run, never called
	// with mu held (the controller calls in with its own lock held).
	changed func()
	wake    chan struct{} // buffer 1: a newly named Secret to read

	// served maps each host (lower case) to the certificate of its mapping's
	// Secret, when it loaded and is valid for the host: what handshakes read.
	served atomic.Pointer[map[string]*tls.Certificate]

	mu struct {
		sync.Mutex
		// domains are the mappings holding their hosts (SetDomains).
		domains []controller.DomainTLS
		// secrets is what is known of each Secret they name.
		secrets map[types.NamespacedName]*secretCert
	}
}

// secretCert is what the last read of a Secret found.
type secretCert struct {
	read    bool   // read (or found missing) at least once
	version string // resourceVersion of the Secret cert was parsed from
	cert    *tls.Certificate
	// reason and message say why cert is nil (read: a condition's; not read
	// yet: the last read's error).
	reason, message string
}

func newSecretCertificates(get func(ctx context.Context, namespace, name string) (*corev1.Secret, error),
	interval time.Duration, log *slog.Logger) *secretCertificates {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &secretCertificates{get: get, interval: interval, timeout: 30 * time.Second, log: log, wake: make(chan struct{}, 1)}
	empty := map[string]*tls.Certificate{}
	s.served.Store(&empty)
	s.mu.secrets = map[types.NamespacedName]*secretCert{}
	return s
}

// Certificate is the certificate of host's DomainMapping's Secret, or nil.
func (s *secretCertificates) Certificate(host string) *tls.Certificate {
	return (*s.served.Load())[strings.ToLower(strings.TrimSuffix(host, "."))]
}

// DomainCertificate says whether the HTTPS ingress serves d.Host: from the
// Secret d names, or without one from the files.
func (s *secretCertificates) DomainCertificate(d controller.DomainTLS) controller.CertificateStatus {
	if d.SecretName == "" {
		if s.files != nil && s.files.Covers(d.Host) {
			return controller.CertificateStatus{Ready: true}
		}
		return controller.CertificateStatus{Reason: v1beta1.ReasonCertificateMissing,
			Message: fmt.Sprintf("the HTTPS ingress's files hold no certificate for %s", d.Host)}
	}
	key := types.NamespacedName{Namespace: d.Namespace, Name: d.SecretName}
	s.mu.Lock()
	sc := s.mu.secrets[key]
	var st secretCert
	if sc != nil {
		st = *sc
	}
	s.mu.Unlock()
	switch {
	case !st.read:
		msg := fmt.Sprintf("Secret %s has not been read yet.", key)
		if st.message != "" {
			msg = fmt.Sprintf("Secret %s could not be read: %s", key, st.message)
		}
		return controller.CertificateStatus{Pending: true, Message: msg}
	case st.cert == nil:
		return controller.CertificateStatus{Reason: st.reason, Message: st.message}
	}
	if err := st.cert.Leaf.VerifyHostname(d.Host); err != nil {
		return controller.CertificateStatus{Reason: v1beta1.ReasonCertificateInvalid,
			Message: fmt.Sprintf("Secret %s: %s is not valid for %s: its names are %v", key, ingress.CertFileName, d.Host, st.cert.Leaf.DNSNames)}
	}
	return controller.CertificateStatus{Ready: true}
}

// SetDomains takes the mappings holding their hosts; a Secret not known yet is
// read at once (by Run).
func (s *secretCertificates) SetDomains(ds []controller.DomainTLS) {
	s.mu.Lock()
	s.mu.domains = ds
	fresh := false
	for _, d := range ds {
		if d.SecretName == "" {
			continue
		}
		key := types.NamespacedName{Namespace: d.Namespace, Name: d.SecretName}
		if s.mu.secrets[key] == nil {
			s.mu.secrets[key] = &secretCert{}
			fresh = true
		}
	}
	s.mu.Unlock()
	if fresh {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Run reads the named Secrets at once, then every interval and whenever a
// mapping names a new one, until ctx is done; it returns nil then.
func (s *secretCertificates) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.readAll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// readAll reads every named Secret, forgets those no mapping names any more,
// rebuilds the served certificates, and tells the controller when anything
// changed.
func (s *secretCertificates) readAll(ctx context.Context) {
	s.mu.Lock()
	domains := s.mu.domains
	wanted := map[types.NamespacedName]secretCert{}
	for _, d := range domains {
		if d.SecretName != "" {
			key := types.NamespacedName{Namespace: d.Namespace, Name: d.SecretName}
			var st secretCert
			if sc := s.mu.secrets[key]; sc != nil {
				st = *sc
			}
			wanted[key] = st
		}
	}
	changed := len(s.mu.secrets) != len(wanted)
	s.mu.Unlock()

	next := make(map[types.NamespacedName]*secretCert, len(wanted))
	for key, old := range wanted {
		st := s.read(ctx, key, old)
		if ctx.Err() != nil {
			return
		}
		if st.read != old.read || st.version != old.version || st.reason != old.reason || st.message != old.message {
			changed = true
		}
		next[key] = &st
	}
	served := map[string]*tls.Certificate{}
	for _, d := range domains {
		st := next[types.NamespacedName{Namespace: d.Namespace, Name: d.SecretName}]
		if d.SecretName != "" && st != nil && st.cert != nil && st.cert.Leaf.VerifyHostname(d.Host) == nil {
			served[strings.ToLower(d.Host)] = st.cert
		}
	}
	if !maps.Equal(served, *s.served.Load()) {
		changed = true
	}
	s.mu.Lock()
	// Keep what SetDomains added meanwhile (not read yet: read at its wake).
	for key, sc := range s.mu.secrets {
		if _, ok := next[key]; !ok && !sc.read {
			next[key] = sc
		}
	}
	s.mu.secrets = next
	s.mu.Unlock()
	s.served.Store(&served)
	if changed && s.changed != nil {
		s.changed()
	}
}

// read reads the Secret key and returns what it holds (old, when the Secret has
// not changed since, or cannot be read now).
func (s *secretCertificates) read(ctx context.Context, key types.NamespacedName, old secretCert) secretCert {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sec, err := s.get(rctx, key.Namespace, key.Name)
	switch {
	case apierrors.IsNotFound(err):
		if old.read && old.reason != v1beta1.ReasonSecretNotFound {
			s.log.Warn("cluster: a DomainMapping's TLS Secret is gone", "secret", key.String())
		}
		return secretCert{read: true, reason: v1beta1.ReasonSecretNotFound, message: fmt.Sprintf("Secret %s not found", key)}
	case apierrors.IsForbidden(err):
		return secretCert{read: true, reason: v1beta1.ReasonSecretForbidden, message: fmt.Sprintf(
			"Secret %s: the controller may not read Secrets in namespace %s: bind the ClusterRole %s to its service account there (a RoleBinding)",
			key, key.Namespace, SecretsClusterRole)}
	case err != nil:
		if ctx.Err() == nil {
			s.log.Error("cluster: a DomainMapping's TLS Secret could not be read; what was read before is kept", "secret", key.String(), "err", err)
		}
		if old.read {
			return old
		}
		return secretCert{message: err.Error()}
	case old.read && old.version == sec.ResourceVersion:
		return old
	}
	st := secretCert{read: true, version: sec.ResourceVersion, reason: v1beta1.ReasonCertificateInvalid}
	if sec.Type != corev1.SecretTypeTLS {
		st.message = fmt.Sprintf("Secret %s is of type %q, not %s", key, sec.Type, corev1.SecretTypeTLS)
		return st
	}
	cert, err := ingress.ParseCertificate(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey], "")
	if err != nil {
		st.message = fmt.Sprintf("Secret %s: %v", key, err)
		s.log.Error("cluster: a DomainMapping's TLS Secret holds no usable certificate", "secret", key.String(), "err", err)
		return st
	}
	s.log.Info("cluster: TLS Secret loaded", "secret", key.String(), "names", cert.Leaf.DNSNames, "notAfter", cert.Leaf.NotAfter)
	return secretCert{read: true, version: sec.ResourceVersion, cert: cert}
}
