package signaling_test

import (
	"context"
	"fmt"

	"github.com/volleynet/volley/signaling"
)

// A host and a client in one process exchange an offer and an answer over a pipe; the
// lobby's client gives the same Signaler interface across the network.
func ExamplePipe() {
	ctx := context.Background()
	host, client := signaling.Pipe()
	defer host.Close()

	client.SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: "v=0 ..."})
	offer, _ := host.RecvSignal(ctx)
	fmt.Println("host got", offer.Type)

	host.SendSignal(ctx, signaling.Signal{Type: signaling.TypeAnswer, SDP: "v=0 ..."})
	answer, _ := client.RecvSignal(ctx)
	fmt.Println("client got", answer.Type)
	// Output:
	// host got offer
	// client got answer
}
