package devcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// aosEnv is the environment the aos CLI needs against this network, in
// order. aos reads GATEWAY_URL when its GraphQL client loads, before it
// parses its flags, so the URLs must be environment variables.
func (n *Network) aosEnv() [][2]string {
	return [][2]string{{"GATEWAY_URL", n.GatewayURL}, {"CU_URL", n.CUURL}, {"MU_URL", n.MUURL}}
}

func aosEnvMap(kvs [][2]string) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv[0]] = kv[1]
	}
	return m
}

// aosArgs are the aos CLI's flags after the process name: --legacy (aos
// talks to HyperBEAM otherwise), the module by id (its by-name lookup does
// not work), this SU's address (it defaults to the testnet SU), and this MU
// as an Authority (for legacy spawns aos adds only the testnet MU, and ignores
// --authority).
func (n *Network) aosArgs(module string) []string {
	return []string{"--legacy", "--module", n.Modules[module], "--scheduler", n.SUAddress,
		"--tag-name", "Authority", "--tag-value", n.MUAddress}
}

// AOSCommand is the shell command line that starts (or reconnects to, by
// name) an aos process on this network with the aos CLI.
func (n *Network) AOSCommand(name string) string {
	var b strings.Builder
	for _, kv := range n.aosEnv() {
		fmt.Fprintf(&b, "%s=%s ", kv[0], kv[1])
	}
	b.WriteString("aos " + name + " " + strings.Join(n.aosArgs(n.defaultModule()), " "))
	return b.String()
}

func (n *Network) defaultModule() string {
	if n.Modules[DefaultModule] != "" {
		return DefaultModule
	}
	names := make([]string, 0, len(n.Modules))
	for name := range n.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// Banner is what `aocu dev` prints once the network is up.
func (n *Network) Banner(dataDir string) string {
	var b strings.Builder
	size := "?"
	if sz, err := dirSize(dataDir); err == nil {
		size = humanBytes(sz)
	}
	fmt.Fprintf(&b, "\naocu dev: an ao network on this machine (data in %s: %s, `aocu dev --reset` wipes it)\n\n", dataDir, size)
	fmt.Fprintf(&b, "  gateway (Arweave, GraphQL)   %s   (GraphQL at %s/graphql)\n", n.GatewayURL, n.GatewayURL)
	fmt.Fprintf(&b, "  messenger unit (MU)          %s   address %s\n", n.MUURL, n.MUAddress)
	fmt.Fprintf(&b, "  scheduler unit (SU)          %s   address %s\n", n.SUURL, n.SUAddress)
	fmt.Fprintf(&b, "  compute unit (CU)            %s   address %s\n", n.CUURL, n.CUAddress)
	if n.ExplorerURL != "" {
		fmt.Fprintf(&b, "  explorer                     %s   (network.json at %s/network.json)\n", n.ExplorerURL, n.ExplorerURL)
	}
	b.WriteString("\n")
	var names []string
	for name := range n.Modules {
		names = append(names, name)
	}
	sort.Strings(names)
	b.WriteString("  modules:\n")
	def := n.defaultModule()
	for _, name := range names {
		mark := ""
		if name == def {
			mark = "   (default aos)"
		}
		fmt.Fprintf(&b, "    %-12s %s%s\n", name, n.Modules[name], mark)
	}
	fmt.Fprintf(&b, `
  Processes must list this MU as an Authority (tag Authority = %s):
  aos ignores a message pushed by the MU from another process unless the MU is one of its authorities.

  aos CLI (npm i -g @permaweb/aos), a process named myprocess (the same line reconnects to it):

    %s

  aoconnect, in a new folder:

    %s

  then this hello.js, run with node hello.js:

`, n.MUAddress, n.AOSCommand("myprocess"), SnippetInstall)
	for _, line := range strings.Split(strings.TrimRight(Snippet(n.ExplorerURL), "\n"), "\n") {
		if line != "" {
			b.WriteString("    " + line)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n" + n.waoLine())
	b.WriteString("\naocu dev: ready\n")
	return b.String()
}

// waoLine tells how WAO's AO client reaches this network: it derives the
// MU, SU and CU URLs from the gateway's port (+ 2, + 3, + 4), which holds
// for the default ports.
func (n *Network) waoLine() string {
	port := func(u string) int {
		i := strings.LastIndex(u, ":")
		p, _ := strconv.Atoi(u[i+1:])
		return p
	}
	gw := port(n.GatewayURL)
	if port(n.MUURL) != gw+2 || port(n.SUURL) != gw+3 || port(n.CUURL) != gw+4 {
		return "  WAO (npm i wao) needs the MU, SU and CU on the gateway's port + 2, + 3, + 4 (the default ports).\n"
	}
	return fmt.Sprintf("  WAO (npm i wao):\n\n    new AO({ port: %d, wao: false, module: '%s', scheduler: '%s', authority: '%s' })\n",
		gw, n.Modules[n.defaultModule()], n.SUAddress, n.MUAddress)
}

// SnippetInstall is the install line of the aoconnect snippet: the
// versions test/aoconnect runs the examples with.
const SnippetInstall = "npm init -y && npm pkg set type=module && npm i @permaweb/aoconnect@0.0.98 arweave@1.15.7"

// snippetTemplate is the aoconnect quick start; {{URL}} is where aocu dev
// serves network.json (its explorer). The README holds it with the default
// URL, and test/readme runs that copy verbatim.
const snippetTemplate = `import { connect, createDataItemSigner } from '@permaweb/aoconnect'
import Arweave from 'arweave'

// aocu dev serves its URLs and ids (AOCU_URL: another aocu dev)
const net = await (await fetch((process.env.AOCU_URL ?? '{{URL}}') + '/network.json')).json()
const ao = connect({ MODE: 'legacy', MU_URL: net.muUrl, CU_URL: net.cuUrl, GATEWAY_URL: net.gatewayUrl, GRAPHQL_URL: net.graphqlUrl })
const wallet = await Arweave.init({}).wallets.generate()   // or your JWK: JSON.parse(fs.readFileSync('wallet.json'))
const signer = createDataItemSigner(wallet)

const pid = await ao.spawn({ module: net.modules[net.defaultModule], scheduler: net.suAddress, signer,
  tags: [{ name: 'Authority', value: net.muAddress }] })   // trust the local MU
const mid = await ao.message({ process: pid, signer, tags: [{ name: 'Action', value: 'Eval' }], data: '1 + 1' })
const { Output } = await ao.result({ process: pid, message: mid })
console.log('process', pid, 'says', Output.data)   // process <id> says 2
`

// Snippet is the aoconnect quick start for a network whose network.json is
// served at url.
func Snippet(url string) string { return strings.ReplaceAll(snippetTemplate, "{{URL}}", url) }

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total, err
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Reset deletes a data directory's state, keeping its wallets (so the units'
// addresses stay the same). It refuses a directory that does not look like
// one `aocu dev` made. It returns the bytes deleted.
func Reset(dataDir string) (int64, error) {
	entries, err := os.ReadDir(dataDir)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", dataDir, err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "wallets")); err != nil && len(entries) > 0 {
		return 0, fmt.Errorf("%s does not look like an aocu dev data directory (no wallets/): not deleting it", dataDir)
	}
	var removed int64
	for _, e := range entries {
		if e.Name() == "wallets" {
			continue
		}
		p := filepath.Join(dataDir, e.Name())
		sz, _ := dirSize(p)
		if err := os.RemoveAll(p); err != nil {
			return removed, fmt.Errorf("delete %s: %w", p, err)
		}
		removed += sz
	}
	return removed, nil
}
