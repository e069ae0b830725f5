package v1

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// isReservedPort reports the ports the queue proxy and its admin
// endpoints use; the user container may not listen on them.
func isReservedPort(p int32) bool {
	switch p {
	case 8008, 8012, 8013, 8022, 9090, 9091:
		return true
	}
	return false
}

// isReservedEnvVar reports the environment variables Knative sets in the
// serving container.
func isReservedEnvVar(name string) bool {
	switch name {
	case "PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION":
		return true
	}
	return false
}

// validPortName reports the valid names of the serving container's port.
func validPortName(name string) bool {
	return name == "" || name == "http1" || name == "h2c"
}

// isReservedMountPath reports the paths a volume may not be mounted at.
func isReservedMountPath(p string) bool {
	return p == "/" || p == "/dev" || p == "/dev/log"
}

// queueProxyContainerName is the sidecar Knative adds to every pod.
const queueProxyContainerName = "queue-proxy"

// podSpecAllowed reports the PodSpec fields (JSON names) Knative's field
// mask allows with stock config-features; everything else must not be set.
// automountServiceAccountToken may only be false (checked separately).
func podSpecAllowed(name string) bool {
	switch name {
	case "serviceAccountName", "containers", "volumes", "imagePullSecrets", "enableServiceLinks", "automountServiceAccountToken":
		return true
	}
	return false
}

// containerAllowed reports the Container fields Knative's field mask
// allows.
func containerAllowed(name string) bool {
	switch name {
	case "name", "args", "command", "env", "envFrom", "image", "imagePullPolicy", "livenessProbe",
		"readinessProbe", "startupProbe", "ports", "resources", "securityContext",
		"terminationMessagePath", "terminationMessagePolicy", "volumeMounts", "workingDir":
		return true
	}
	return false
}

// securityContextAllowed reports the container SecurityContext fields
// Knative's field mask allows (no privileged, SELinux, Windows, procMount
// or AppArmor settings).
func securityContextAllowed(name string) bool {
	switch name {
	case "allowPrivilegeEscalation", "capabilities", "readOnlyRootFilesystem",
		"runAsGroup", "runAsNonRoot", "runAsUser", "seccompProfile":
		return true
	}
	return false
}

// volumeSourcesAllowed lists the volume sources allowed with stock
// config-features (emptyDir is on by default).
func volumeSourcesAllowed() []string {
	return []string{"configMap", "emptyDir", "projected", "secret"}
}

// disallowedFields returns the JSON names of the non-zero fields of the
// struct v that are not in allowed, in declaration order.
func disallowedFields(v any, allowed func(string) bool) []string {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	var out []string
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || allowed(name) {
			continue
		}
		if !rv.Field(i).IsZero() {
			out = append(out, name)
		}
	}
	return out
}

// validate checks a RevisionSpec (p = ...spec).
func (rs *RevisionSpec) validate(d Defaults, p *field.Path) field.ErrorList {
	errs := rs.validatePodSpec(p)
	if rs.TimeoutSeconds != nil {
		errs = append(errs, validateTimeout(*rs.TimeoutSeconds, d, p.Child("timeoutSeconds"))...)
	}
	if rs.ResponseStartTimeoutSeconds != nil {
		errs = append(errs, validateTimeout(*rs.ResponseStartTimeoutSeconds, d, p.Child("responseStartTimeoutSeconds"))...)
	}
	if rs.IdleTimeoutSeconds != nil {
		errs = append(errs, validateTimeout(*rs.IdleTimeoutSeconds, d, p.Child("idleTimeoutSeconds"))...)
	}
	if rs.ContainerConcurrency != nil {
		lo := int64(0)
		if !d.AllowContainerConcurrencyZero {
			lo = 1
		}
		if cc := *rs.ContainerConcurrency; cc < lo || cc > d.ContainerConcurrencyMaxLimit {
			errs = append(errs, errOutOfBounds(p.Child("containerConcurrency"), cc, lo, d.ContainerConcurrencyMaxLimit))
		}
	}
	return errs
}

func validateTimeout(v int64, d Defaults, p *field.Path) field.ErrorList {
	if v != 0 && (v < 0 || v > d.MaxRevisionTimeoutSeconds) {
		return field.ErrorList{errOutOfBounds(p, v, 0, d.MaxRevisionTimeoutSeconds)}
	}
	return nil
}

func (rs *RevisionSpec) validatePodSpec(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range disallowedFields(rs.PodSpec, podSpecAllowed) {
		errs = append(errs, errDisallowedFields(p.Child(f)))
	}
	if a := rs.AutomountServiceAccountToken; a != nil && *a {
		errs = append(errs, errDisallowedFields(p.Child("automountServiceAccountToken")))
	}
	if rs.ServiceAccountName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(rs.ServiceAccountName) {
			errs = append(errs, errInvalidValue(p.Child("serviceAccountName"), rs.ServiceAccountName, msg))
		}
	}

	volumes, vErrs := validateVolumes(rs.Volumes, p.Child("volumes"))
	errs = append(errs, vErrs...)

	cp := p.Child("containers")
	switch len(rs.Containers) {
	case 0:
		return append(errs, errMissingField(cp))
	}

	// The serving container: the only one, or the one with ports.
	serving := 0
	ports := 0
	for i := range rs.Containers {
		if n := len(rs.Containers[i].Ports); n > 0 {
			serving = i
			ports += n
		}
	}
	allPorts := p.Child("containers[*]", "ports")
	if ports > 1 {
		errs = append(errs, errGeneric(allPorts, ports, "more than one container port is set", "Only a single port is allowed across all containers"))
	}
	if len(rs.Containers) > 1 && ports == 0 {
		errs = append(errs, errMissingField(allPorts))
	}

	names := map[string]bool{}
	mounted := map[string]bool{}
	for i := range rs.Containers {
		c := &rs.Containers[i]
		ip := cp.Index(i)
		if c.Name != "" {
			if names[c.Name] {
				errs = append(errs, errGeneric(ip.Child("name"), c.Name, fmt.Sprintf("duplicate container name %q", shorten(c.Name))))
			}
			names[c.Name] = true
		}
		isServing := i == serving
		errs = append(errs, validateContainer(c, isServing, volumes, mounted, ip)...)
	}
	for i, v := range rs.Volumes {
		if v.Name != "" && !mounted[v.Name] {
			errs = append(errs, errGeneric(p.Child("volumes").Index(i).Child("name"), v.Name, fmt.Sprintf("volume with name %q not mounted", shorten(v.Name))))
		}
	}
	return errs
}

// validateVolumes checks names and sources and returns the volumes by
// name.
func validateVolumes(vols []corev1.Volume, p *field.Path) (map[string]corev1.Volume, field.ErrorList) {
	var errs field.ErrorList
	byName := make(map[string]corev1.Volume, len(vols))
	allowed := func(name string) bool { return slices.Contains(volumeSourcesAllowed(), name) }
	for i, v := range vols {
		ip := p.Index(i)
		if v.Name == "" {
			errs = append(errs, errMissingField(ip.Child("name")))
		} else {
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, errInvalidValue(ip.Child("name"), v.Name, msg))
			}
			if _, dup := byName[v.Name]; dup {
				errs = append(errs, errGeneric(ip.Child("name"), v.Name, fmt.Sprintf("duplicate volume name %q", shorten(v.Name))))
			}
			byName[v.Name] = v
		}
		for _, f := range disallowedFields(v.VolumeSource, allowed) {
			errs = append(errs, errDisallowedFields(ip.Child(f)))
		}
		var set []*field.Path
		for _, s := range volumeSourcesAllowed() {
			if !reflect.ValueOf(v.VolumeSource).FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, s) }).IsNil() {
				set = append(set, ip.Child(s))
			}
		}
		switch {
		case len(set) == 0 && len(disallowedFields(v.VolumeSource, allowed)) == 0:
			var all []*field.Path
			for _, s := range volumeSourcesAllowed() {
				all = append(all, ip.Child(s))
			}
			errs = append(errs, errMissingOneOf(all...)...)
		case len(set) > 1:
			errs = append(errs, errMultipleOneOf(set...)...)
		}
	}
	return byName, errs
}

func validateContainer(c *corev1.Container, isServing bool, volumes map[string]corev1.Volume, mounted map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range disallowedFields(*c, containerAllowed) {
		errs = append(errs, errDisallowedFields(p.Child(f)))
	}
	if c.Name == queueProxyContainerName {
		errs = append(errs, errGeneric(p.Child("name"), c.Name, fmt.Sprintf("%q is a reserved container name", queueProxyContainerName)))
	} else if c.Name != "" {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, errInvalidValue(p.Child("name"), c.Name, msg))
		}
	}
	if c.Image == "" {
		errs = append(errs, errMissingField(p.Child("image")))
	} else if err := parseImageReference(c.Image); err != nil {
		errs = append(errs, errGeneric(p.Child("image"), c.Image, "Failed to parse image reference",
			fmt.Sprintf("image: %q, error: %v", shorten(c.Image), err)))
	}
	for i, e := range c.Env {
		ep := p.Child("env").Index(i)
		switch {
		case e.Name == "":
			errs = append(errs, errMissingField(ep.Child("name")))
		case isReservedEnvVar(e.Name) && (isServing || e.Name != "PORT"):
			errs = append(errs, errGeneric(ep.Child("name"), e.Name, fmt.Sprintf("%q is a reserved environment variable", e.Name)))
		}
		if vf := e.ValueFrom; vf != nil {
			// kubernetes.podspec-fieldref is disabled by default.
			if vf.FieldRef != nil {
				errs = append(errs, errDisallowedFields(ep.Child("valueFrom", "fieldRef")))
			}
			if vf.ResourceFieldRef != nil {
				errs = append(errs, errDisallowedFields(ep.Child("valueFrom", "resourceFieldRef")))
			}
		}
	}
	for i, ef := range c.EnvFrom {
		ep := p.Child("envFrom").Index(i)
		switch {
		case ef.ConfigMapRef == nil && ef.SecretRef == nil:
			errs = append(errs, errMissingOneOf(ep.Child("configMapRef"), ep.Child("secretRef"))...)
		case ef.ConfigMapRef != nil && ef.SecretRef != nil:
			errs = append(errs, errMultipleOneOf(ep.Child("configMapRef"), ep.Child("secretRef"))...)
		}
	}
	switch c.TerminationMessagePolicy {
	case "", corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	default:
		errs = append(errs, errInvalidValue(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy))
	}
	errs = append(errs, validateVolumeMounts(c.VolumeMounts, volumes, mounted, p.Child("volumeMounts"))...)
	if sc := c.SecurityContext; sc != nil {
		for _, f := range disallowedFields(*sc, securityContextAllowed) {
			errs = append(errs, errDisallowedFields(p.Child("securityContext", f)))
		}
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			// kubernetes.containerspec-addcapabilities is disabled by default.
			errs = append(errs, errDisallowedFields(p.Child("securityContext", "capabilities", "add")))
		}
		for _, f := range []struct {
			name string
			v    *int64
		}{{"runAsUser", sc.RunAsUser}, {"runAsGroup", sc.RunAsGroup}} {
			if f.v != nil && (*f.v < 0 || *f.v > math.MaxInt32) {
				errs = append(errs, errOutOfBounds(p.Child("securityContext", f.name), *f.v, 0, math.MaxInt32))
			}
		}
	}

	port := corev1.ContainerPort{Name: "http", ContainerPort: 8080}
	if isServing && len(c.Ports) > 0 {
		port = c.Ports[0]
		errs = append(errs, validateServingPort(port, p.Child("ports"))...)
	}
	if isServing {
		errs = append(errs, validateReadinessProbe(c.ReadinessProbe, port, p.Child("readinessProbe"))...)
		errs = append(errs, validateProbe(c.LivenessProbe, port, p.Child("livenessProbe"))...)
		errs = append(errs, validateProbe(c.StartupProbe, port, p.Child("startupProbe"))...)
	} else {
		// multi-container-probing is disabled by default.
		if c.ReadinessProbe != nil {
			errs = append(errs, errDisallowedFields(p.Child("readinessProbe")))
		}
		if c.LivenessProbe != nil {
			errs = append(errs, errDisallowedFields(p.Child("livenessProbe")))
		}
	}
	return errs
}

func validateServingPort(port corev1.ContainerPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.HostPort != 0 {
		errs = append(errs, errDisallowedFields(p.Child("hostPort")))
	}
	if port.HostIP != "" {
		errs = append(errs, errDisallowedFields(p.Child("hostIP")))
	}
	if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
		errs = append(errs, errInvalidValue(p.Child("protocol"), port.Protocol))
	}
	if isReservedPort(port.ContainerPort) {
		errs = append(errs, errInvalidValue(p.Child("containerPort"), fmt.Sprintf("%d is a reserved port", port.ContainerPort),
			fmt.Sprintf("%d is a reserved port, please use a different value", port.ContainerPort)))
	}
	if port.ContainerPort < 0 || port.ContainerPort > 65535 {
		errs = append(errs, errOutOfBounds(p.Child("containerPort"), port.ContainerPort, 0, 65535))
	}
	if !validPortName(port.Name) {
		errs = append(errs, errGeneric(p, port.Name, fmt.Sprintf("Port name %v is not allowed", shorten(port.Name)),
			"Name must be empty, or one of: 'h2c', 'http1'"))
	}
	return errs
}

func validateVolumeMounts(mounts []corev1.VolumeMount, volumes map[string]corev1.Volume, mounted map[string]bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := map[string]bool{}
	for i, m := range mounts {
		ip := p.Index(i)
		v, ok := volumes[m.Name]
		if !ok {
			errs = append(errs, errGeneric(ip.Child("name"), m.Name, "volumeMount has no matching volume", got(m.Name)))
		} else {
			mounted[m.Name] = true
			writable := v.EmptyDir != nil || v.PersistentVolumeClaim != nil || v.Ephemeral != nil
			if !writable && !m.ReadOnly {
				errs = append(errs, errGeneric(ip.Child("readOnly"), m.ReadOnly, "volume mount should be readOnly for this type of volume"))
			}
		}
		mp := ip.Child("mountPath")
		switch {
		case m.MountPath == "":
			errs = append(errs, errMissingField(mp))
		case isReservedMountPath(filepath.Clean(m.MountPath)):
			errs = append(errs, errGeneric(mp, m.MountPath, fmt.Sprintf("mountPath %q is a reserved path", filepath.Clean(m.MountPath))))
		case !filepath.IsAbs(m.MountPath):
			errs = append(errs, errInvalidValue(mp, m.MountPath))
		case paths[filepath.Clean(m.MountPath)]:
			errs = append(errs, errGeneric(mp, m.MountPath, fmt.Sprintf("%q must be unique", shorten(m.MountPath))))
		}
		paths[filepath.Clean(m.MountPath)] = true
	}
	return errs
}

// validateProbe checks that a probe has exactly one handler and that a
// named port matches the serving port.
func validateProbe(pr *corev1.Probe, port corev1.ContainerPort, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	var errs field.ErrorList
	h := pr.ProbeHandler
	var set []*field.Path
	if h.HTTPGet != nil {
		set = append(set, p.Child("httpGet"))
		if s := h.HTTPGet.Port.StrVal; s != "" && s != port.Name {
			errs = append(errs, errInvalidValue(p.Child("httpGet", "port"), s, "Probe port must match container port"))
		}
	}
	if h.TCPSocket != nil {
		set = append(set, p.Child("tcpSocket"))
		if s := h.TCPSocket.Port.StrVal; s != "" && s != port.Name {
			errs = append(errs, errInvalidValue(p.Child("tcpSocket", "port"), s, "Probe port must match container port"))
		}
	}
	if h.Exec != nil {
		set = append(set, p.Child("exec"))
	}
	if h.GRPC != nil {
		set = append(set, p.Child("grpc"))
	}
	switch {
	case len(set) == 0:
		errs = append(errs, errMissingOneOf(p.Child("httpGet"), p.Child("tcpSocket"), p.Child("exec"), p.Child("grpc"))...)
	case len(set) > 1:
		errs = append(errs, errMultipleOneOf(set...)...)
	}
	return errs
}

func validateReadinessProbe(pr *corev1.Probe, port corev1.ContainerPort, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	errs := validateProbe(pr, port, p)
	if pr.PeriodSeconds < 0 {
		errs = append(errs, errOutOfBounds(p.Child("periodSeconds"), pr.PeriodSeconds, 0, math.MaxInt32))
	}
	if pr.InitialDelaySeconds < 0 {
		errs = append(errs, errOutOfBounds(p.Child("initialDelaySeconds"), pr.InitialDelaySeconds, 0, math.MaxInt32))
	}
	if pr.SuccessThreshold < 1 {
		errs = append(errs, errOutOfBounds(p.Child("successThreshold"), pr.SuccessThreshold, 1, math.MaxInt32))
	}
	if pr.PeriodSeconds == 0 {
		// periodSeconds 0 selects the queue proxy's aggressive probing.
		if pr.FailureThreshold != 0 {
			errs = append(errs, errGeneric(p.Child("failureThreshold"), pr.FailureThreshold, "failureThreshold is disallowed when periodSeconds is zero"))
		}
		if pr.TimeoutSeconds != 0 {
			errs = append(errs, errGeneric(p.Child("timeoutSeconds"), pr.TimeoutSeconds, "timeoutSeconds is disallowed when periodSeconds is zero"))
		}
	} else {
		if pr.TimeoutSeconds < 1 {
			errs = append(errs, errOutOfBounds(p.Child("timeoutSeconds"), pr.TimeoutSeconds, 1, math.MaxInt32))
		}
		if pr.FailureThreshold < 1 {
			errs = append(errs, errOutOfBounds(p.Child("failureThreshold"), pr.FailureThreshold, 1, math.MaxInt32))
		}
	}
	return errs
}

// Image references, after the OCI distribution grammar:
// [domain[:port]/]path[:tag][@digest].
var (
	imageNameRE = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*$`)
	imageTagRE  = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
)

// parseImageReference checks an image reference the way
// go-containerregistry's name.ParseReference would accept it.
func parseImageReference(img string) error {
	if len(img) > 4096 {
		return fmt.Errorf("reference is %d bytes long", len(img))
	}
	name := img
	if at := strings.IndexByte(name, '@'); at >= 0 {
		if !digestRE.MatchString(name[at+1:]) {
			return fmt.Errorf("invalid digest %q", shorten(name[at+1:]))
		}
		name = name[:at]
	}
	if slash, colon := strings.LastIndexByte(name, '/'), strings.LastIndexByte(name, ':'); colon > slash {
		if !imageTagRE.MatchString(name[colon+1:]) {
			return fmt.Errorf("invalid tag %q", shorten(name[colon+1:]))
		}
		name = name[:colon]
	}
	if len(name) > 255 || !imageNameRE.MatchString(name) {
		return fmt.Errorf("invalid repository %q", shorten(name))
	}
	return nil
}
