//go:build unix && !linux

package local

// recordPod records nothing where there is no /proc to identify processes by.
func (p *pod) recordPod(int) (forget func()) { return func() {} }

// stopSurvivors is a no-op where pods are not recorded.
func (r *Runtime) stopSurvivors() {}
