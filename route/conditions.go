package route

import "errors"

// Condition reasons and messages of a Route that this package decides
// (knative.dev/serving/pkg/apis/serving/v1/route_lifecycle.go); the serving package writes them onto the Route's status.
const (
	// ReasonErrorConfig: a generated host is invalid (AllTrafficAssigned
	// False).
	ReasonErrorConfig = "ErrorConfig"
	// ReasonUnknown: any other error while building the traffic
	// (AllTrafficAssigned Unknown).
	ReasonUnknown = "Unknown"
	// ReasonRolloutInProgress: a gradual rollout is running (IngressReady
	// Unknown).
	ReasonRolloutInProgress = "RolloutInProgress"
	// MessageRolloutInProgress goes with ReasonRolloutInProgress.
	MessageRolloutInProgress = "A gradual rollout of the latest revision(s) is in progress."
)

// TrafficCondition maps the error of Resolve or Config.Hosts /
// Config.TableRoute to the Route's AllTrafficAssigned condition, as Knative
// sets it: nil is True; a *TargetError is False (failure) or Unknown (still
// waiting) with its reason and message; a *HostError is False with reason
// ErrorConfig; anything else is Unknown with reason Unknown and the error's
// text.
func TrafficCondition(err error) (status Status, reason, message string) {
	if err == nil {
		return StatusTrue, "", ""
	}
	var te *TargetError
	if errors.As(err, &te) {
		if te.Failed {
			return StatusFalse, te.Reason, te.Message
		}
		return StatusUnknown, te.Reason, te.Message
	}
	var he *HostError
	if errors.As(err, &he) {
		return StatusFalse, ReasonErrorConfig, he.Message
	}
	return StatusUnknown, ReasonUnknown, err.Error()
}
