package ingress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/servekit/servekit/serving/internal/safefile"
)

// The files of a certificate in a host's directory of CertificatesOptions.Dir:
// the names of a Kubernetes TLS Secret's keys, so that a Secret mounted as
// DIR/<host> is such a directory.
const (
	CertFileName = "tls.crt"
	KeyFileName  = "tls.key"
)

// MinTLSVersion is the oldest TLS version the HTTPS ingress accepts.
const MinTLSVersion = tls.VersionTLS12

// MaxCertificateFileBytes bounds the size of a certificate or key file.
const MaxCertificateFileBytes = 1 << 20

// DefaultCertificatesInterval is how often Certificates.Run looks at its files
// when CertificatesOptions.Interval is zero.
const DefaultCertificatesInterval = time.Second

// A CertificateSource finds the certificate for a host name. *Certificates is
// one; the HTTPS ingress asks it for each TLS handshake's server name (SNI), and
// a custom domain (DomainMapping) can ask it whether the platform holds a
// certificate for its host. Implementations must be safe for concurrent use.
type CertificateSource interface {
	// Certificate returns the certificate to present for host (a DNS name,
	// matched without regard to case and to a trailing dot), or nil when there is
	// none for that host.
	Certificate(host string) *tls.Certificate
}

// CertificatesOptions configure [Certificates]. CertFile and KeyFile go together;
// at least they, Dir or Sources are required.
type CertificatesOptions struct {
	// CertFile and KeyFile are the default certificate (PEM: the leaf, then any
	// intermediates) and its private key (PEM), presented to a client whose
	// server name has no certificate of its own in Dir, or that sent none. ""
	// for both: no default, and such a client's handshake fails.
	CertFile, KeyFile string
	// Dir, if not "", is a directory of per-host certificates, chosen by the
	// server name the client sends (SNI): DIR/<host>/tls.crt and
	// DIR/<host>/tls.key (CertFileName, KeyFileName), where <host> is a lower-case
	// DNS name ("shop.example.com") or a wildcard whose first label is "*"
	// ("*.example.com": any one label in its place, as in a certificate).
	// An exact host wins over a wildcard. A directory per host is the layout of a
	// Kubernetes TLS Secret mounted at DIR/<host>. Entries whose names start
	// with "." and files directly in Dir are ignored.
	Dir string
	// Interval is how often Run looks at the files; zero means
	// DefaultCertificatesInterval.
	Interval time.Duration
	// Logger receives a line per certificate loaded, replaced or removed by Run,
	// and its errors; nil discards.
	Logger *slog.Logger
	// Sources, if any, are asked first, in order, for the certificate of a
	// handshake's server name (GetCertificate), before Dir and the default: e.g.
	// serving/platform/cluster's certificates from the Kubernetes TLS Secrets that
	// DomainMappings name. Certificate, Covers and Hosts do not ask them.
	Sources []CertificateSource
	// OnChange, if not nil, is called after a Scan has replaced a certificate
	// (loaded, renewed or removed one), from the goroutine of Scan (Run's); e.g.
	// to tell the controller that a DomainMapping's host may have gained or lost
	// its certificate. It must not call Scan.
	OnChange func()
}

// Certificates are the HTTPS ingress's certificates, read from files: a default
// pair and a directory of per-host pairs (see [CertificatesOptions]); other
// sources (CertificatesOptions.Sources) are asked first at each handshake. Run follows
// the files: a changed pair (by modification time and size) is read again and
// replaces the old one for the handshakes that start from then on; a new host
// directory adds its certificate, a removed one removes it. A pair that fails to
// load on a change (a half-written file, a key that does not match) is logged and
// the certificate in use is kept; it is read again on its next change.
//
// Its methods are safe for concurrent use; Scan and Run are serialized.
type Certificates struct {
	o   CertificatesOptions
	log *slog.Logger
	// cur is what handshakes read, replaced as a whole by a scan.
	cur atomic.Pointer[certSet]

	mu sync.Mutex // serializes scans; guards tried
	// tried is, for each pair ("" for the default, dirKey for the directory
	// itself), the stamps of its files at the last attempt to load it and that
	// attempt's error: a pair is read again only when its files change, and an
	// error is logged once.
	tried map[string]attempt
}

// dirKey is tried's key of the directory's own errors: no host is named so.
const dirKey = "/"

// attempt is what a scan remembers of its last look at a pair.
type attempt struct {
	st  [2]stamp
	err string // "" when it loaded
}

// certSet is one version of the certificates.
type certSet struct {
	def   *tls.Certificate            // nil without a default pair
	hosts map[string]*tls.Certificate // by host, lower case: "a.example.com", "*.example.com"
}

// stamp identifies a version of a file.
type stamp struct {
	mod  time.Time
	size int64
}

// NewCertificates reads every certificate o names. An error names the file at
// fault: missing, unreadable, not PEM, a key that does not match its certificate, a
// certificate that is not valid for its directory's host, or a directory whose
// name is not a host name.
func NewCertificates(o CertificatesOptions) (*Certificates, error) {
	switch {
	case (o.CertFile == "") != (o.KeyFile == ""):
		return nil, errors.New("ingress: CertificatesOptions: CertFile and KeyFile go together (a certificate and its key)")
	case o.CertFile == "" && o.Dir == "" && len(o.Sources) == 0:
		return nil, errors.New("ingress: CertificatesOptions: a default certificate (CertFile, KeyFile), a directory (Dir) or a source (Sources) is required")
	}
	if o.Interval <= 0 {
		o.Interval = DefaultCertificatesInterval
	}
	c := &Certificates{o: o, log: o.Logger, tried: map[string]attempt{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	set := &certSet{hosts: map[string]*tls.Certificate{}}
	if o.CertFile != "" {
		st, _ := stamps(o.CertFile, o.KeyFile)
		cert, err := loadPair(o.CertFile, o.KeyFile, "")
		if err != nil {
			return nil, err
		}
		set.def, c.tried[""] = cert, attempt{st: st}
	}
	if o.Dir != "" {
		hosts, err := hostDirs(o.Dir)
		if err != nil {
			return nil, err
		}
		for _, h := range hosts {
			if h.err != nil {
				return nil, h.err
			}
			crt, key := filepath.Join(o.Dir, h.name, CertFileName), filepath.Join(o.Dir, h.name, KeyFileName)
			st, _ := stamps(crt, key)
			cert, err := loadPair(crt, key, h.name)
			if err != nil {
				return nil, err
			}
			set.hosts[h.name], c.tried[h.name] = cert, attempt{st: st}
		}
	}
	c.cur.Store(set)
	return c, nil
}

// Certificate returns the certificate of host in Dir: its own, else the wildcard
// that covers it, else nil (the default certificate is not considered: see
// GetCertificate).
func (c *Certificates) Certificate(host string) *tls.Certificate {
	return c.cur.Load().lookup(host)
}

func (s *certSet) lookup(host string) *tls.Certificate {
	if len(s.hosts) == 0 || host == "" {
		return nil
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if cert, ok := s.hosts[host]; ok {
		return cert
	}
	if _, parent, ok := strings.Cut(host, "."); ok && parent != "" {
		return s.hosts["*."+parent]
	}
	return nil
}

// Covers reports whether the files give a handshake for host a certificate
// valid for host: its own in Dir, the wildcard covering it, or the default
// certificate if host is one of its names. (A DomainMapping's host is served
// over HTTPS when it is covered.)
func (c *Certificates) Covers(host string) bool {
	set := c.cur.Load()
	if set.lookup(host) != nil {
		return true
	}
	return set.def != nil && set.def.Leaf != nil && host != "" &&
		set.def.Leaf.VerifyHostname(strings.TrimSuffix(host, ".")) == nil
}

// Default returns the default certificate, or nil without one.
func (c *Certificates) Default() *tls.Certificate { return c.cur.Load().def }

// Hosts returns the hosts (and wildcards) that have a certificate in Dir, sorted.
func (c *Certificates) Hosts() []string {
	set := c.cur.Load()
	hosts := make([]string, 0, len(set.hosts))
	for h := range set.hosts {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	return hosts
}

// GetCertificate is tls.Config's GetCertificate: the certificate of the client's
// server name from the first of Sources that has one, else from Dir
// (Certificate), else the default one. Without either the handshake
// fails with an error naming the server name.
func (c *Certificates) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	for _, src := range c.o.Sources {
		if cert := src.Certificate(hello.ServerName); cert != nil {
			return cert, nil
		}
	}
	set := c.cur.Load()
	if cert := set.lookup(hello.ServerName); cert != nil {
		return cert, nil
	}
	if set.def != nil {
		return set.def, nil
	}
	return nil, fmt.Errorf("ingress: no certificate for server name %q and no default certificate", hello.ServerName)
}

// TLSConfig returns the configuration of an HTTPS listener serving these
// certificates: TLS 1.2 at least, HTTP/2 and HTTP/1.1 offered by ALPN.
func (c *Certificates) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     MinTLSVersion,
		GetCertificate: c.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// Run looks at the files every interval (Scan) until ctx is done; it returns nil
// then.
func (c *Certificates) Run(ctx context.Context) error {
	t := time.NewTicker(c.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.Scan()
		}
	}
}

// Scan looks at the files once and applies what changed since the last look:
// changed pairs are read again, new host directories added, removed ones
// dropped. A pair that fails to load is logged and keeps its certificate in use.
func (c *Certificates) Scan() {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cur.Load()
	next := &certSet{def: old.def, hosts: old.hosts}
	changed := false
	if c.o.CertFile != "" {
		if cert, ok := c.reloadLocked("", c.o.CertFile, c.o.KeyFile); ok {
			next.def, changed = cert, true
		}
	}
	if c.o.Dir != "" {
		hosts, err := hostDirs(c.o.Dir)
		if err != nil {
			c.logOnce(dirKey, [2]stamp{}, "ingress: certificates directory unreadable; the certificates in use are kept", err)
		} else {
			next.hosts = map[string]*tls.Certificate{}
			delete(c.tried, dirKey)
			present := map[string]bool{"": true}
			for _, h := range hosts {
				present[h.name] = true
				if h.err != nil {
					c.logOnce(h.name, [2]stamp{}, "ingress: certificate directory ignored", h.err)
					continue
				}
				cert := old.hosts[h.name]
				crt, key := filepath.Join(c.o.Dir, h.name, CertFileName), filepath.Join(c.o.Dir, h.name, KeyFileName)
				if nc, ok := c.reloadLocked(h.name, crt, key); ok {
					cert, changed = nc, true
				}
				if cert != nil {
					next.hosts[h.name] = cert
				}
			}
			for name := range old.hosts {
				if !present[name] {
					c.log.Info("ingress: certificate removed", "host", name)
					changed = true
				}
			}
			for name := range c.tried {
				if !present[name] {
					delete(c.tried, name)
				}
			}
		}
	}
	if changed {
		c.cur.Store(next)
		if c.o.OnChange != nil {
			c.o.OnChange()
		}
	}
}

// reloadLocked loads the pair of name (host, or "" for the default) if its files
// changed since the last attempt, and reports whether it got a new certificate.
func (c *Certificates) reloadLocked(name, crt, key string) (*tls.Certificate, bool) {
	st, err := stamps(crt, key)
	if prev, ok := c.tried[name]; ok && prev.st == st && (err == nil || prev.err == err.Error()) {
		return nil, false
	}
	if err == nil {
		var cert *tls.Certificate
		if cert, err = loadPair(crt, key, name); err == nil {
			c.tried[name] = attempt{st: st}
			c.log.Info("ingress: certificate loaded", "host", hostAttr(name), "cert", crt, "notAfter", cert.Leaf.NotAfter)
			return cert, true
		}
	}
	c.logOnce(name, st, "ingress: certificate not loaded; the one in use (if any) is kept", err)
	return nil, false
}

// logOnce logs err unless it is the one logged last for name with the same
// stamps, and remembers both: the same files are not read, nor the same error
// logged, again until they change.
func (c *Certificates) logOnce(name string, st [2]stamp, msg string, err error) {
	if prev, ok := c.tried[name]; ok && prev.st == st && prev.err == err.Error() {
		return
	}
	c.tried[name] = attempt{st: st, err: err.Error()}
	c.log.Error(msg, "host", hostAttr(name), "err", err)
}

func hostAttr(name string) string {
	if name == "" {
		return "(default)"
	}
	return name
}

// stamps returns the stamps of a pair's files (zero for a file that cannot be
// stat'ed, with the error).
func stamps(crt, key string) ([2]stamp, error) {
	var st [2]stamp
	var first error
	for i, p := range [2]string{crt, key} {
		fi, err := os.Stat(p)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		st[i] = stamp{fi.ModTime(), fi.Size()}
	}
	return st, first
}

// hostDir is a directory of Dir: its name, and why it is not a host's.
type hostDir struct {
	name string
	err  error
}

// hostDirs lists the directories of dir (following symbolic links), skipping names
// that start with ".".
func hostDirs(dir string) ([]hostDir, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("ingress: certificates directory: %w", err)
	}
	var out []hostDir
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || !fi.IsDir() {
			continue
		}
		h := hostDir{name: name}
		msgs := validation.IsDNS1123Subdomain(name)
		if strings.HasPrefix(name, "*.") {
			msgs = validation.IsWildcardDNS1123Subdomain(name)
		}
		if len(msgs) > 0 {
			h.err = fmt.Errorf("ingress: certificates directory %s: %q is not a lower-case host name or wildcard (*.example.com): %s",
				dir, name, strings.Join(msgs, "; "))
		}
		out = append(out, h)
	}
	return out, nil
}

// loadPair reads a certificate and its key. host, if not "", is the host (or
// wildcard) the certificate must be valid for.
func loadPair(crt, key, host string) (*tls.Certificate, error) {
	certPEM, err := safefile.Read(crt, MaxCertificateFileBytes)
	if err != nil {
		return nil, fileErr("certificate", crt, err)
	}
	keyPEM, err := safefile.Read(key, MaxCertificateFileBytes)
	if err != nil {
		return nil, fileErr("key", key, err)
	}
	pair, err := parsePair(certPEM, keyPEM, "certificate "+crt, "key "+key+" (of certificate "+crt+")", host)
	if err != nil {
		return nil, fmt.Errorf("ingress: %w", err)
	}
	return pair, nil
}

// ParseCertificate parses a certificate (PEM: the leaf, then any
// intermediates) and its private key (PEM), as a Kubernetes TLS Secret holds
// them under tls.crt and tls.key, and, if host is not "", checks that the
// certificate is valid for host (a DNS name, or a wildcard "*.example.com" the
// certificate names). Its errors name the part at fault by its Secret key
// (CertFileName, KeyFileName); the caller says where the data came from.
func ParseCertificate(certPEM, keyPEM []byte, host string) (*tls.Certificate, error) {
	return parsePair(certPEM, keyPEM, CertFileName, KeyFileName, host)
}

// parsePair is loadPair and ParseCertificate on data: certName and keyName name
// the certificate and the key in errors.
func parsePair(certPEM, keyPEM []byte, certName, keyName, host string) (*tls.Certificate, error) {
	// The certificate alone first, so that an error in it names it.
	var block *pem.Block
	for rest := certPEM; ; {
		if block, rest = pem.Decode(rest); block == nil || block.Type == "CERTIFICATE" {
			break
		}
	}
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block in it", certName)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("%s: %w", certName, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyName, err)
	}
	leaf := pair.Leaf
	switch {
	case host == "":
	case strings.HasPrefix(host, "*."):
		if !slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return strings.EqualFold(n, host) }) {
			return nil, fmt.Errorf("%s is not valid for %s: its names are %v", certName, host, leaf.DNSNames)
		}
	default:
		if err := leaf.VerifyHostname(host); err != nil {
			return nil, fmt.Errorf("%s is not valid for %s: its names are %v", certName, host, leaf.DNSNames)
		}
	}
	return &pair, nil
}

// fileErr names what of a pair could not be read, and the file.
func fileErr(what, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("ingress: %s %s: %w", what, path, err)
}
