// Command daprd is the Dapr sidecar of the pinned release, built with -tags stablecomponents.
package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() {
	app.Run()
}
