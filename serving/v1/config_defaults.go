package v1

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/servekit/servekit/autoscaler"
)

// Keys of the config-defaults ConfigMap understood by DefaultsFromMap.
const (
	// RevisionTimeoutSecondsKey is the default timeoutSeconds.
	RevisionTimeoutSecondsKey = "revision-timeout-seconds"
	// MaxRevisionTimeoutSecondsKey is the largest timeoutSeconds accepted.
	MaxRevisionTimeoutSecondsKey = "max-revision-timeout-seconds"
	// RevisionResponseStartTimeoutSecondsKey is the default responseStartTimeoutSeconds.
	RevisionResponseStartTimeoutSecondsKey = "revision-response-start-timeout-seconds"
	// RevisionIdleTimeoutSecondsKey is the default idleTimeoutSeconds.
	RevisionIdleTimeoutSecondsKey = "revision-idle-timeout-seconds"
	// ContainerNameTemplateKey is the Go template naming unnamed containers.
	ContainerNameTemplateKey = "container-name-template"
	// InitContainerNameTemplateKey is the Go template naming unnamed init containers.
	InitContainerNameTemplateKey = "init-container-name-template"
	// ContainerConcurrencyKey is the default containerConcurrency.
	ContainerConcurrencyKey = "container-concurrency"
	// ContainerConcurrencyMaxLimitKey is the largest containerConcurrency accepted.
	ContainerConcurrencyMaxLimitKey = "container-concurrency-max-limit"
	// AllowContainerConcurrencyZeroKey is whether containerConcurrency 0 (unlimited) is accepted.
	AllowContainerConcurrencyZeroKey = "allow-container-concurrency-zero"
	// EnableServiceLinksKey is the default enableServiceLinks (true, false, or anything else for unset).
	EnableServiceLinksKey = "enable-service-links"
	// RevisionCPURequestKey is the default CPU request.
	RevisionCPURequestKey = "revision-cpu-request"
	// RevisionCPULimitKey is the default CPU limit.
	RevisionCPULimitKey = "revision-cpu-limit"
	// RevisionMemoryRequestKey is the default memory request.
	RevisionMemoryRequestKey = "revision-memory-request"
	// RevisionMemoryLimitKey is the default memory limit.
	RevisionMemoryLimitKey = "revision-memory-limit"
	// RevisionEphemeralStorageRequestKey is the default ephemeral-storage request.
	RevisionEphemeralStorageRequestKey = "revision-ephemeral-storage-request"
	// RevisionEphemeralStorageLimitKey is the default ephemeral-storage limit.
	RevisionEphemeralStorageLimitKey = "revision-ephemeral-storage-limit"
)

// Stock values of config-defaults.
const (
	// DefaultRevisionTimeoutSeconds is the stock revision-timeout-seconds.
	DefaultRevisionTimeoutSeconds = 300
	// DefaultMaxRevisionTimeoutSeconds is the stock max-revision-timeout-seconds.
	DefaultMaxRevisionTimeoutSeconds = 600
	// DefaultContainerConcurrencyMaxLimit is the stock container-concurrency-max-limit.
	DefaultContainerConcurrencyMaxLimit = 1000
	// DefaultUserContainerName is the stock container-name-template.
	DefaultUserContainerName = "user-container"
	// DefaultInitContainerName is the stock init-container-name-template.
	DefaultInitContainerName = "init-container"
)

// Defaults is the typed content of Knative's config-defaults ConfigMap:
// the values SetDefaults fills in and the bounds Validate enforces.
//
// The zero value is not the stock configuration (it would allow no
// timeout and no concurrency); start from StockDefaults or DefaultsFromMap.
type Defaults struct {
	// RevisionTimeoutSeconds replaces a nil or 0 timeoutSeconds.
	RevisionTimeoutSeconds int64
	// MaxRevisionTimeoutSeconds is the largest timeoutSeconds Validate
	// accepts.
	MaxRevisionTimeoutSeconds int64
	// RevisionResponseStartTimeoutSeconds, when non-zero and smaller than
	// the Revision's timeoutSeconds, fills a nil responseStartTimeoutSeconds.
	RevisionResponseStartTimeoutSeconds int64
	// RevisionIdleTimeoutSeconds, when non-zero and smaller than the
	// Revision's timeoutSeconds, fills a nil idleTimeoutSeconds. 0 means no
	// idle timeout.
	RevisionIdleTimeoutSeconds int64
	// ContainerNameTemplate is a Go text/template over the parent's
	// ObjectMeta (for example "{{.Name}}") naming unnamed containers. Empty
	// means DefaultUserContainerName.
	ContainerNameTemplate string
	// InitContainerNameTemplate is ContainerNameTemplate for init
	// containers. Empty means DefaultInitContainerName.
	InitContainerNameTemplate string
	// ContainerConcurrency fills a nil containerConcurrency. 0 means
	// unlimited.
	ContainerConcurrency int64
	// ContainerConcurrencyMaxLimit is the largest containerConcurrency
	// Validate accepts.
	ContainerConcurrencyMaxLimit int64
	// AllowContainerConcurrencyZero false makes Validate reject
	// containerConcurrency 0 (unlimited).
	AllowContainerConcurrencyZero bool
	// EnableServiceLinks fills a nil enableServiceLinks on create. Nil
	// leaves it nil (the Kubernetes default, true).
	EnableServiceLinks *bool
	// RevisionCPURequest fills a container's CPU request when unset; nil
	// sets nothing. The five fields below work the same way.
	RevisionCPURequest *resource.Quantity
	// RevisionCPULimit fills a container's CPU limit; nil sets nothing.
	RevisionCPULimit *resource.Quantity
	// RevisionMemoryRequest fills a container's memory request; nil sets
	// nothing.
	RevisionMemoryRequest *resource.Quantity
	// RevisionMemoryLimit fills a container's memory limit; nil sets nothing.
	RevisionMemoryLimit *resource.Quantity
	// RevisionEphemeralStorageRequest fills a container's ephemeral-storage
	// request; nil sets nothing.
	RevisionEphemeralStorageRequest *resource.Quantity
	// RevisionEphemeralStorageLimit fills a container's ephemeral-storage
	// limit; nil sets nothing.
	RevisionEphemeralStorageLimit *resource.Quantity

	// Autoscaler is the config-autoscaler that the autoscaling annotations
	// are validated against (allow-zero-initial-scale, max-scale-limit), as
	// Knative's webhook validates them against the cluster's. It is not a
	// config-defaults key: DefaultsFromMap leaves it nil, and
	// serving/controller sets it from its Options.Autoscaler when nil. Nil
	// means autoscaler.DefaultConfig().
	Autoscaler *autoscaler.Config
}

// StockDefaults returns Knative's stock config-defaults: timeout 300 s
// (max 600), response-start timeout equal to the timeout, no idle timeout,
// "user-container"/"init-container", containerConcurrency 0 (max 1000,
// zero allowed), enableServiceLinks false and no resource defaults.
func StockDefaults() Defaults {
	f := false
	return Defaults{
		RevisionTimeoutSeconds:              DefaultRevisionTimeoutSeconds,
		MaxRevisionTimeoutSeconds:           DefaultMaxRevisionTimeoutSeconds,
		RevisionResponseStartTimeoutSeconds: DefaultRevisionTimeoutSeconds,
		ContainerNameTemplate:               DefaultUserContainerName,
		InitContainerNameTemplate:           DefaultInitContainerName,
		ContainerConcurrencyMaxLimit:        DefaultContainerConcurrencyMaxLimit,
		AllowContainerConcurrencyZero:       true,
		EnableServiceLinks:                  &f,
	}
}

// DefaultsFromMap parses the data of a config-defaults ConfigMap. Missing
// keys keep their stock value; unknown keys are ignored (as Knative does).
// Errors name the key and the bad value.
func DefaultsFromMap(data map[string]string) (Defaults, error) {
	d := StockDefaults()
	for _, k := range []struct {
		key string
		dst *int64
	}{
		{RevisionTimeoutSecondsKey, &d.RevisionTimeoutSeconds},
		{MaxRevisionTimeoutSecondsKey, &d.MaxRevisionTimeoutSeconds},
		{RevisionIdleTimeoutSecondsKey, &d.RevisionIdleTimeoutSeconds},
		{ContainerConcurrencyKey, &d.ContainerConcurrency},
		{ContainerConcurrencyMaxLimitKey, &d.ContainerConcurrencyMaxLimit},
	} {
		if err := parseInt64(data, k.key, k.dst); err != nil {
			return Defaults{}, err
		}
	}
	// The response-start timeout defaults to the (possibly configured)
	// revision timeout unless set on its own.
	d.RevisionResponseStartTimeoutSeconds = d.RevisionTimeoutSeconds
	if err := parseInt64(data, RevisionResponseStartTimeoutSecondsKey, &d.RevisionResponseStartTimeoutSeconds); err != nil {
		return Defaults{}, err
	}
	if v, ok := data[AllowContainerConcurrencyZeroKey]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Defaults{}, fmt.Errorf("config-defaults: failed to parse %q: invalid value %q: want true or false", AllowContainerConcurrencyZeroKey, v)
		}
		d.AllowContainerConcurrencyZero = b
	}
	if v, ok := data[EnableServiceLinksKey]; ok {
		// Tri-state, as in Knative: true, false, or anything else = nil.
		switch strings.ToLower(v) {
		case "true":
			t := true
			d.EnableServiceLinks = &t
		case "false":
			f := false
			d.EnableServiceLinks = &f
		default:
			d.EnableServiceLinks = nil
		}
	}
	for _, k := range []struct {
		key string
		dst *string
	}{
		{ContainerNameTemplateKey, &d.ContainerNameTemplate},
		{InitContainerNameTemplateKey, &d.InitContainerNameTemplate},
	} {
		if v, ok := data[k.key]; ok {
			*k.dst = v
		}
	}
	for _, k := range []struct {
		key string
		dst **resource.Quantity
	}{
		{RevisionCPURequestKey, &d.RevisionCPURequest},
		{RevisionCPULimitKey, &d.RevisionCPULimit},
		{RevisionMemoryRequestKey, &d.RevisionMemoryRequest},
		{RevisionMemoryLimitKey, &d.RevisionMemoryLimit},
		{RevisionEphemeralStorageRequestKey, &d.RevisionEphemeralStorageRequest},
		{RevisionEphemeralStorageLimitKey, &d.RevisionEphemeralStorageLimit},
	} {
		if v, ok := data[k.key]; ok && v != "" {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return Defaults{}, fmt.Errorf("config-defaults: failed to parse %q: invalid quantity %q: %v", k.key, v, err)
			}
			*k.dst = &q
		}
	}
	if err := d.Validate(); err != nil {
		return Defaults{}, err
	}
	return d, nil
}

func parseInt64(data map[string]string, key string, dst *int64) error {
	v, ok := data[key]
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return fmt.Errorf("config-defaults: failed to parse %q: invalid integer %q", key, v)
	}
	*dst = n
	return nil
}

// Validate checks the relations between the values, with Knative's
// messages: the timeouts must not exceed their maxima, the concurrency
// must lie in [0, max-limit] and the name templates must render a name.
func (d Defaults) Validate() error {
	if d.RevisionTimeoutSeconds < 0 {
		return fmt.Errorf("config-defaults: %s must not be negative, got %d", RevisionTimeoutSecondsKey, d.RevisionTimeoutSeconds)
	}
	if d.RevisionTimeoutSeconds > d.MaxRevisionTimeoutSeconds {
		return fmt.Errorf("config-defaults: revision-timeout-seconds (%d) cannot be greater than max-revision-timeout-seconds (%d)",
			d.RevisionTimeoutSeconds, d.MaxRevisionTimeoutSeconds)
	}
	if d.RevisionResponseStartTimeoutSeconds < 0 || d.RevisionResponseStartTimeoutSeconds > d.RevisionTimeoutSeconds {
		return fmt.Errorf("config-defaults: revision-response-start-timeout-seconds (%d) cannot be greater than revision-timeout-seconds (%d)",
			d.RevisionResponseStartTimeoutSeconds, d.RevisionTimeoutSeconds)
	}
	if d.RevisionIdleTimeoutSeconds < 0 || d.RevisionIdleTimeoutSeconds > d.RevisionTimeoutSeconds {
		return fmt.Errorf("config-defaults: revision-idle-timeout-seconds (%d) cannot be greater than revision-timeout-seconds (%d)",
			d.RevisionIdleTimeoutSeconds, d.RevisionTimeoutSeconds)
	}
	if d.ContainerConcurrencyMaxLimit < 1 || d.ContainerConcurrencyMaxLimit > math.MaxInt32 {
		return fmt.Errorf("config-defaults: expected 1 <= %d <= %d: %s", d.ContainerConcurrencyMaxLimit, math.MaxInt32, ContainerConcurrencyMaxLimitKey)
	}
	if d.ContainerConcurrency < 0 || d.ContainerConcurrency > d.ContainerConcurrencyMaxLimit {
		return fmt.Errorf("config-defaults: expected 0 <= %d <= %d: %s", d.ContainerConcurrency, d.ContainerConcurrencyMaxLimit, ContainerConcurrencyKey)
	}
	sample := metav1.ObjectMeta{Name: "foo", Namespace: "bar", Labels: map[string]string{}, Annotations: map[string]string{}}
	for _, t := range []struct{ key, tmpl string }{
		{ContainerNameTemplateKey, d.ContainerNameTemplate},
		{InitContainerNameTemplateKey, d.InitContainerNameTemplate},
	} {
		if _, err := renderName(t.tmpl, "x", &sample); err != nil {
			return fmt.Errorf("config-defaults: invalid %s %q: %v", t.key, t.tmpl, err)
		}
	}
	return nil
}

// renderName renders a container-name template against meta. An empty
// template yields fallback.
func renderName(tmpl, fallback string, meta *metav1.ObjectMeta) (string, error) {
	if tmpl == "" {
		return fallback, nil
	}
	if !strings.Contains(tmpl, "{{") {
		return tmpl, nil
	}
	t, err := template.New("container-name").Parse(tmpl)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, meta); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// userContainerName is the rendered container-name-template, falling back
// to DefaultUserContainerName if the template cannot be rendered.
func (d Defaults) userContainerName(meta *metav1.ObjectMeta) string {
	if n, err := renderName(d.ContainerNameTemplate, DefaultUserContainerName, meta); err == nil && n != "" {
		return n
	}
	return DefaultUserContainerName
}

func (d Defaults) initContainerName(meta *metav1.ObjectMeta) string {
	if n, err := renderName(d.InitContainerNameTemplate, DefaultInitContainerName, meta); err == nil && n != "" {
		return n
	}
	return DefaultInitContainerName
}

func (d Defaults) resourceDefaults(c *corev1.Container) {
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	for _, r := range []struct {
		list  corev1.ResourceList
		name  corev1.ResourceName
		value *resource.Quantity
	}{
		{c.Resources.Requests, corev1.ResourceCPU, d.RevisionCPURequest},
		{c.Resources.Requests, corev1.ResourceMemory, d.RevisionMemoryRequest},
		{c.Resources.Requests, corev1.ResourceEphemeralStorage, d.RevisionEphemeralStorageRequest},
		{c.Resources.Limits, corev1.ResourceCPU, d.RevisionCPULimit},
		{c.Resources.Limits, corev1.ResourceMemory, d.RevisionMemoryLimit},
		{c.Resources.Limits, corev1.ResourceEphemeralStorage, d.RevisionEphemeralStorageLimit},
	} {
		if _, ok := r.list[r.name]; !ok && r.value != nil {
			r.list[r.name] = r.value.DeepCopy()
		}
	}
}
