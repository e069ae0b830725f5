package controller_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/servekit/servekit/autoscaler"
	"github.com/servekit/servekit/route"
	"github.com/servekit/servekit/serving/controller"
	v1 "github.com/servekit/servekit/serving/v1"
)

// The setters change a running controller: the domain moves routes' URLs and the
// hosts the ingress answers, config-autoscaler's min-scale reaches the running
// revision's decider, and a source error comes and goes.
func TestSettersChangeARunningController(t *testing.T) {
	b := newFakeBackend()
	// No periodic full pass within the test: a setter must bring its own.
	c, err := controller.New(controller.Options{Backend: b, FullResyncInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply("hello.yaml", []v1.Object{testService("hello", "example.com/hello")}); err != nil {
		t.Fatal(err)
	}
	run(t, c)
	waitFor(t, "hello Ready", func() bool {
		st := c.Status()
		return len(st.Services) == 1 && st.Services[0].Ready
	})

	nc, err := route.ConfigFromMaps(route.ConfigMaps{Domain: map[string]string{"example.org": ""}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetNetworkConfig(nc)
	waitFor(t, "hello's URL on example.org", func() bool { return c.Status().Services[0].URL == "http://hello.default.example.org" })
	if code, body := serve(c.Handler(), "hello.default.example.org"); code != http.StatusOK || body != "rev=hello-00001" {
		t.Errorf("the new host = %d %q, want 200 rev=hello-00001", code, body)
	}
	if code, _ := serve(c.Handler(), "hello.default.example.com"); code != http.StatusNotFound {
		t.Errorf("the old host = %d, want 404", code)
	}

	ac, err := autoscaler.ConfigFromMap(map[string]string{autoscaler.KeyMinScale: "3"})
	if err != nil {
		t.Fatal(err)
	}
	c.SetAutoscalerConfig(ac)
	key := types.NamespacedName{Namespace: "default", Name: "hello-00001"}
	waitFor(t, "hello-00001 at min-scale 3", func() bool { return len(b.Pods(key)) == 3 })

	c.SetSourceError("config/autoscaler.yaml", errors.New("stable-window: bad"))
	if st := c.Status(); len(st.Errors) != 1 || st.Errors[0].Source != "config/autoscaler.yaml" {
		t.Errorf("errors = %+v, want config/autoscaler.yaml", st.Errors)
	}
	c.SetSourceError("config/autoscaler.yaml", nil)
	if st := c.Status(); len(st.Errors) != 0 {
		t.Errorf("errors after the fix = %+v, want none", st.Errors)
	}
}
