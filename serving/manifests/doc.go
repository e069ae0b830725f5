// Package manifests feeds Knative manifests (YAML or JSON files of
// serving.knative.dev/v1 kinds and serving.knative.dev/v1beta1 DomainMappings) to a
// controller: [Watcher] applies the files of a directory and follows
// its changes, and [ValidateFile] checks one file as Knative's webhooks would,
// without applying anything.
//
// A manifest file is the unit of change: its objects are applied together, a file
// that does not decode or validate, or holds no object, is rejected as a whole (and
// changes nothing), and only removing a file deletes its objects. Files are
// bounded by [MaxFileBytes], the Kubernetes API server's request limit, and only
// regular files are read: a FIFO, socket or device is rejected ([ErrNotRegular])
// without being opened for reading, so a scan never blocks on one.
package manifests
