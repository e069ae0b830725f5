package store_test

import (
	"fmt"
	"os"

	"github.com/servekit/servekit/serving/controller"
	"github.com/servekit/servekit/serving/store"
)

// A Store keeps what was committed across Close and Open (and across a crash); a
// controller gets it as controller.Options.Store.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "state")
	defer os.RemoveAll(dir)

	s, err := store.Open(dir, store.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Commit([]controller.Record{{
		RecordKey: controller.RecordKey{Kind: "Service", Namespace: "default", Name: "hello"},
		Value:     []byte(`{"metadata":{"name":"hello"}}`),
	}}, nil)
	s.Close()

	s, _ = store.Open(dir, store.Options{}) // the process restarted
	defer s.Close()
	_ = s.Load(func(r controller.Record) error {
		fmt.Printf("%s %s/%s: %s\n", r.Kind, r.Namespace, r.Name, r.Value)
		return nil
	})
	// Output:
	// Service default/hello: {"metadata":{"name":"hello"}}
}
