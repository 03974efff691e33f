// Command bench measures Volley: snapshot bandwidth on a deterministic arena trace,
// latency over real pion connections under simulated loss, delay and jitter, and how
// many clients one host carries, and whether churn leaves resources behind.
//
//	go run ./bench bandwidth [-json]
//	go run ./bench latency   [-json]
//	go run ./bench scale     [-json]
//	go run ./bench churn     (honest connect time while attackers churn handshakes)
//	go run ./bench recover   (recovery after an outage or a network switch, resumption after a hard restart)
//	go run ./bench soak      [-json] [-clients N] [-minutes M]
package main

import (
	"fmt"
	"os"
)

var commands = map[string]func(args []string) error{
	"bandwidth": runBandwidth,
	"latency":   runLatency,
	"scale":     runScale,
	"churn":     runChurn,
	"recover":   runRecover,
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: bench bandwidth|latency|scale|churn|recover|soak [flags]  (bench <command> -h for flags)")
		os.Exit(2)
	}
	if err := commands[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
