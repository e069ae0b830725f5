// Package manifests feeds Knative manifests (serving.knative.dev/v1 YAML or JSON
// files) to a controller: [Watcher] applies the files of a directory and follows
// its changes, and [ValidateFile] checks one file as Knative's webhooks would,
// without applying anything.
//
// A manifest file is the unit of change: its objects are applied together, a file
// that does not decode or validate is rejected as a whole (and changes nothing),
// and removing a file deletes its objects. Files are bounded by [MaxFileBytes],
// the Kubernetes API server's request limit.
package manifests
