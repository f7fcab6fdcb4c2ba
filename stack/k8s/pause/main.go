// The pod sandbox's process: it holds the pod's namespaces open and does nothing else. No
// registry is reachable to pull the usual pause image, so the node builds this one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
}
