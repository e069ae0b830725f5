package webhook

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Keys of the certificate Secret (Knative's names).
const (
	CACertKey     = "ca-cert.pem"
	ServerCertKey = "server-cert.pem"
	ServerKeyKey  = "server-key.pem"
)

// certs is the content of the certificate Secret, parsed.
type certs struct {
	pair     tls.Certificate
	leaf     *x509.Certificate
	caBundle []byte // PEM: the current CA, then the previous one while it is valid
}

// makeCerts makes a new self-signed CA and a serving certificate it signs for
// hosts (DNS names or IP addresses), both valid from now until now+validity. The
// CA bundle is the new CA followed by the CAs of prevBundle still valid at now, so
// that a server still presenting the previous certificate stays trusted while the
// replicas move to the new one.
func makeCerts(hosts []string, now time.Time, validity time.Duration, prevBundle []byte) (map[string][]byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notBefore := now.Add(-time.Minute) // tolerate a little clock skew with the API server
	notAfter := now.Add(validity)
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"servekit"}, CommonName: "servekit-webhook-ca"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"servekit"}, CommonName: hosts[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	bundle := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	for _, prev := range parseCerts(prevBundle) {
		if now.Before(prev.NotAfter) {
			bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: prev.Raw})...)
			break // only the previous one
		}
	}
	return map[string][]byte{
		CACertKey:     bundle,
		ServerCertKey: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		ServerKeyKey:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("webhook: crypto/rand failed: " + err.Error())
	}
	return n
}

// parseCerts returns the certificates of a PEM bundle, skipping what does not parse.
func parseCerts(bundle []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, bundle = pem.Decode(bundle)
		if b == nil {
			return out
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil && b.Type == "CERTIFICATE" {
			out = append(out, c)
		}
	}
}

// parseSecret checks the certificate Secret's data: a key pair, a CA bundle that
// verifies it, and names it the error.
func parseSecret(data map[string][]byte) (*certs, error) {
	for _, k := range []string{CACertKey, ServerCertKey, ServerKeyKey} {
		if len(data[k]) == 0 {
			return nil, fmt.Errorf("key %s: missing", k)
		}
	}
	pair, err := tls.X509KeyPair(data[ServerCertKey], data[ServerKeyKey])
	if err != nil {
		return nil, fmt.Errorf("keys %s, %s: %w", ServerCertKey, ServerKeyKey, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", ServerCertKey, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data[CACertKey]) {
		return nil, fmt.Errorf("key %s: no PEM certificate", CACertKey)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: leaf.NotBefore.Add(time.Minute)}); err != nil {
		return nil, fmt.Errorf("key %s: does not verify %s: %w", CACertKey, ServerCertKey, err)
	}
	pair.Leaf = leaf
	return &certs{pair: pair, leaf: leaf, caBundle: data[CACertKey]}, nil
}

// covers reports whether the serving certificate is valid for every host.
func (c *certs) covers(hosts []string) bool {
	for _, h := range hosts {
		if c.leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}
