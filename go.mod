module github.com/thrustmq/thrust

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.1.2
	github.com/anishathalye/porcupine v1.3.1
	github.com/pingcap/failpoint v0.0.0-20240528011301-b51a646c7c86
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sync v0.25.0
	golang.org/x/sys v0.50.0
)

require github.com/pingcap/errors v0.11.4 // indirect
