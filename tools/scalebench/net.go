package main

import (
	"context"
	"net/http"

	"github.com/aocu/aocu/internal/arweave"
	"github.com/aocu/aocu/internal/localnet/benchnet"
)

// localNet is the repository's local gateway and SU on loopback HTTP, in this
// process, on the real clock: posts to different processes run in parallel.
type localNet struct {
	gwURL, suURL, suAddr string
	user                 signer
	client               *http.Client
	module               string
	net                  *benchnet.Net
}

// signer signs the bench's items: ED25519 by default (fast; type-2 items, as
// arbundles makes them), or an Arweave RSA wallet.
type signer interface {
	arweave.Signer
	Address() string
}

func startNet(ctx context.Context, dir string, suWallet *arweave.Wallet, user signer, client *http.Client) (*localNet, error) {
	bn, err := benchnet.Start(ctx, benchnet.Config{Dir: dir, SUWallet: suWallet})
	if err != nil {
		return nil, err
	}
	return &localNet{user: user, client: client, net: bn, gwURL: bn.GatewayURL, suURL: bn.SUURL, suAddr: bn.SUAddress}, nil
}

// Close stops the servers.
func (n *localNet) Close() { n.net.Close() }

func (n *localNet) publishModule(ctx context.Context, wasm []byte, format string) (err error) {
	n.module, err = benchnet.PublishModule(ctx, n.client, n.gwURL, n.user, wasm, format)
	return err
}

// toSU signs an item and posts it straight to the SU.
func (n *localNet) toSU(ctx context.Context, data []byte, target string, kv ...string) (string, error) {
	raw, err := benchnet.SignItem(n.user, data, target, kv...)
	if err != nil {
		return "", err
	}
	return benchnet.PostItem(ctx, n.client, n.suURL+"/", raw)
}

func (n *localNet) spawn(ctx context.Context, name string) (string, error) {
	return n.toSU(ctx, nil, "",
		"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Process",
		"Module", n.module, "Scheduler", n.suAddr, "Authority", n.user.Address(),
		"Name", name, "SDK", "aoconnect", "Content-Type", "text/plain")
}

func (n *localNet) message(ctx context.Context, pid, data string, kv ...string) (string, error) {
	return n.toSU(ctx, []byte(data), pid, append([]string{"Data-Protocol", "ao", "Variant", "ao.TN.1", "Type", "Message"}, kv...)...)
}
