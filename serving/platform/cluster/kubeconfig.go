package cluster

import (
	"fmt"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// InCluster is the kubeconfig value of RESTConfig that uses the pod's service
// account (rest.InClusterConfig).
const InCluster = "in-cluster"

// RESTConfig returns the client configuration of a kubeconfig, loaded as kubectl
// loads it, by client-go's clientcmd:
//
//   - kubeconfig is one file, or a list of files separated by the OS's path list
//     separator (":" on Unix), merged as the KUBECONFIG variable's files are (the
//     first file to set a value wins; a missing file in a list is skipped, a
//     missing single file is an error); or InCluster for the pod's service
//     account.
//   - contextName selects a context; "" means the kubeconfig's current-context.
//   - users may authenticate with a token, a client certificate, basic auth or an
//     exec credential plugin (gke-gcloud-auth-plugin, aws eks get-token,
//     kubelogin), which client-go runs, and runs again when its credential
//     expires. Relative file paths are relative to the file that names them.
//
// Errors name the kubeconfig and, where it is at fault, the context, cluster or
// user.
func RESTConfig(kubeconfig, contextName string) (*rest.Config, error) {
	if kubeconfig == InCluster {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("cluster: kubeconfig %s: %w", InCluster, err)
		}
		return cfg, nil
	}
	rules := &clientcmd.ClientConfigLoadingRules{}
	if files := filepath.SplitList(kubeconfig); len(files) == 1 {
		rules.ExplicitPath = files[0]
	} else {
		rules.Precedence = files
	}
	kc, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("cluster: kubeconfig %s: %w", kubeconfig, err)
	}
	cfg, err := fromKubeconfig(kc, contextName)
	if err != nil {
		return nil, fmt.Errorf("cluster: kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

// fromKubeconfig is the client configuration of context contextName ("" for the
// current one) of a loaded kubeconfig. It names a missing context, cluster or user
// itself: clientcmd would report an empty configuration.
func fromKubeconfig(kc *clientcmdapi.Config, contextName string) (*rest.Config, error) {
	name := contextName
	if name == "" {
		name = kc.CurrentContext
	}
	if name == "" {
		return nil, fmt.Errorf("no current-context, and no context given")
	}
	kctx := kc.Contexts[name]
	switch {
	case kctx == nil:
		return nil, fmt.Errorf("context %q: no such context", name)
	case kc.Clusters[kctx.Cluster] == nil:
		return nil, fmt.Errorf("context %q: cluster %q: no such cluster", name, kctx.Cluster)
	case kctx.AuthInfo != "" && kc.AuthInfos[kctx.AuthInfo] == nil:
		return nil, fmt.Errorf("context %q: user %q: no such user", name, kctx.AuthInfo)
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*kc, name, &clientcmd.ConfigOverrides{}, nil)
	return cc.ClientConfig()
}
