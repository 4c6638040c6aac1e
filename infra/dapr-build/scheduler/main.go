// Command scheduler is the Dapr scheduler of the pinned release: it stores and fires Jobs API jobs.
package main

import "github.com/dapr/dapr/cmd/scheduler/app"

func main() {
	app.Run()
}
