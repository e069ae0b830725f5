package queue_test

import (
	"fmt"

	"github.com/servekit/servekit/queue"
)

func ExampleParseEnv() {
	env := map[string]string{
		"CONTAINER_CONCURRENCY":    "10",
		"QUEUE_SERVING_PORT":       "8012",
		"USER_PORT":                "8080",
		"REVISION_TIMEOUT_SECONDS": "300",
		"SERVING_POD":              "hello-00001-deployment-abc",
		"SERVING_READINESS_PROBE":  `{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}`,
	}
	e, err := queue.ParseEnv(func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := e.ProxyOptions()
	fmt.Println(opts.Target, opts.ContainerConcurrency, opts.Timeout, e.AdminPort, e.MetricsPort, len(opts.ReadinessProbes))

	env["USER_PORT"] = "eighty"
	_, err = queue.ParseEnv(func(k string) string { return env[k] })
	fmt.Println(err)
	// Output:
	// 127.0.0.1:8080 10 5m0s 8022 9090 1
	// queue: USER_PORT: "eighty" is not an integer
}
