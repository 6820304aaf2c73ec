package weavedrive

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aocu/aocu/internal/jsjson"
)

// Availability-Type values (reference checkAdmissible, index.js:390).
const (
	availAssignments = "Assignments"
	availIndividual  = "Individual"
	availLibrary     = "Library"
)

// admit is the reference's checkAdmissible (index.js:367-482). It returns nil when the /data id may be read, an
// error wrapping ErrHalt when it may not, and another error when the gateway could not answer.
//
//  1. Mode "test" admits everything.
//  2. The id equal to the process's (last) On-Boot tag is admitted (AOP-6 boot loader).
//  3. Otherwise the module or the process must have the tag Extension: WeaveDrive.
//  4. The Availability-Type is the process's (last) tag, else the module's, else "Assignments"; an empty value
//     counts as absent; anything but Assignments, Individual or Library is refused (the reference throws).
//  5. GraphQL: an Attestation (Type=Attestation, Message=<id>, Data-Protocol=ao) owned by the process's (last)
//     Scheduler or any of its Attestor tags, in a block up to the message's Block-Height, admits the id.
//  6. Individual only: so does an availability item (Type=Available, ID=<id>, Data-Protocol=WeaveDrive).
//  7. Library: without an attestation the reference throws "does not support Library attestations yet"; here
//     that is ErrHalt too.
func (g *Gateway) admit(ctx context.Context, req Request, id string) error {
	if g.mode == ModeTest {
		return nil
	}
	if boot := tagValue("On-Boot", req.ProcessTags); boot != "" && boot == id {
		return nil
	}
	if !contains(tagValues("Extension", req.ModuleTags), "WeaveDrive") &&
		!contains(tagValues("Extension", req.ProcessTags), "WeaveDrive") {
		return halt("/data/%s: the process tried to use WeaveDrive, but neither it nor its module has the tag Extension: WeaveDrive", id)
	}
	mode := tagValue("Availability-Type", req.ProcessTags)
	if mode == "" {
		mode = tagValue("Availability-Type", req.ModuleTags)
	}
	if mode == "" {
		mode = availAssignments
	}
	if mode != availAssignments && mode != availIndividual && mode != availLibrary {
		return halt("/data/%s: unsupported WeaveDrive mode (Availability-Type) %q", id, mode)
	}
	var owners []string
	if s := tagValue("Scheduler", req.ProcessTags); s != "" {
		owners = append(owners, s)
	}
	for _, a := range tagValues("Attestor", req.ProcessTags) {
		if a != "" {
			owners = append(owners, a)
		}
	}
	found, err := g.attested(ctx, attestationQuery, owners, id, req.BlockHeight)
	if err != nil || found {
		return err
	}
	if mode == availIndividual {
		found, err = g.attested(ctx, availableQuery, owners, id, req.BlockHeight)
		if err != nil || found {
			return err
		}
	}
	if mode == availLibrary {
		return halt("/data/%s: no attestation found (Availability-Type: Library): This WeaveDrive implementation does not support Library attestations yet!", id)
	}
	return halt("/data/%s: not admissible: no attestation by %v up to block %d (Availability-Type: %s)", id, owners, req.BlockHeight, mode)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// The reference's GraphQL queries, byte for byte (index.js:414-434 and 443-463), with placeholders for its
// ${attestors}, ${blockHeight} and ${ID}. Note the trailing space after ")" and the missing commas: GraphQL
// treats commas as white space, so the text is valid.
const (
	attestationQuery = "query {\n" +
		"          transactions(\n" +
		"            owners: \x00OWNERS\x00,\n" +
		"            block: {min: 0, max: \x00HEIGHT\x00},\n" +
		"            tags: [\n" +
		"              { name: \"Type\", values: [\"Attestation\"] },\n" +
		"              { name: \"Message\", values: [\"\x00ID\x00\"]}\n" +
		"              { name: \"Data-Protocol\", values: [\"ao\"] },\n" +
		"            ]\n" +
		"          ) \n" +
		"          {\n" +
		"            edges {\n" +
		"              node {\n" +
		"                tags {\n" +
		"                  name\n" +
		"                  value\n" +
		"                }\n" +
		"              }\n" +
		"            }\n" +
		"          }\n" +
		"        }"
	availableQuery = "query {\n" +
		"            transactions(\n" +
		"              owners: \x00OWNERS\x00,\n" +
		"              block: {min: 0, max: \x00HEIGHT\x00},\n" +
		"              tags: [\n" +
		"                { name: \"Type\", values: [\"Available\"]},\n" +
		"                { name: \"ID\", values: [\"\x00ID\x00\"]}\n" +
		"                { name: \"Data-Protocol\", values: [\"WeaveDrive\"] },\n" +
		"              ]\n" +
		"            ) \n" +
		"            {\n" +
		"              edges {\n" +
		"                node {\n" +
		"                  tags {\n" +
		"                    name\n" +
		"                    value\n" +
		"                  }\n" +
		"                }\n" +
		"              }\n" +
		"            }\n" +
		"          }"
)

// graphQLBody returns the POST body the reference sends for a query: JSON.stringify({ query, variables }) with
// variables undefined, i.e. {"query":"..."}.
func graphQLBody(tmpl string, owners []string, id string, height int64) []byte {
	q := strings.NewReplacer(
		"\x00OWNERS\x00", serializeStringArr(owners),
		"\x00HEIGHT\x00", strconv.FormatInt(height, 10),
		"\x00ID\x00", id,
	).Replace(tmpl)
	var body jsjson.Object
	body.String("query", q)
	return body.Bytes()
}

// serializeStringArr is the reference's serializeStringArr: [ "a", "b" ] as `["a", "b"]`. The reference puts
// the values in quotes unescaped; here '"', '\\' and control characters are escaped, so a tag value cannot
// change the query (values without them, such as addresses, give the same text).
func serializeStringArr(arr []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range arr {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('"')
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r == '\n':
				b.WriteString(`\n`)
			case r < 0x20:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// attested runs one admissibility query (reference queryHasResult, index.js:503-507: the id is admitted when
// json?.data?.transactions?.edges?.length is truthy). A positive answer is cached with its block height.
func (g *Gateway) attested(ctx context.Context, tmpl string, owners []string, id string, height int64) (bool, error) {
	kind := "Attestation"
	if tmpl == availableQuery {
		kind = "Available"
	}
	key := strings.Join(append([]string{kind, id}, owners...), "\x00")
	if v, ok := g.attest.Get(key); ok && v.(int64) <= height {
		return true, nil
	}
	r := httpReq{
		method: http.MethodPost,
		path:   "graphql",
		header: http.Header{"Content-Type": {"application/json"}},
		body:   graphQLBody(tmpl, owners, id, height),
	}
	var found bool
	err := g.retry(ctx, func(ctx context.Context) (bool, error) {
		resp, err := g.roundTrip(ctx, r)
		if err != nil {
			return ctx.Err() == nil, err
		}
		defer resp.Body.Close()
		if transientStatus(resp.StatusCode) {
			return true, statusError(r, resp)
		}
		// Like res.json() in the reference, any other status is read as JSON too (a GraphQL error answer
		// carries no data, so the id is not admitted).
		body, err := readBody(r, resp, maxDocumentBytes)
		if err != nil {
			return ctx.Err() == nil, err
		}
		found, err = hasEdges(body)
		if err != nil {
			return false, fmt.Errorf("weavedrive: %s (HTTP %s): answer is not JSON: %w", r, resp.Status, err)
		}
		return false, nil
	})
	if err != nil {
		return false, fmt.Errorf("weavedrive: admissibility of /data/%s: %w", id, err)
	}
	if found {
		if v, ok := g.attest.Get(key); !ok || v.(int64) > height {
			put(g.attest, key, height, int64(len(key)))
		}
	}
	return found, nil
}

// hasEdges reports whether json?.data?.transactions?.edges?.length is truthy for json = await res.json() of a
// GraphQL answer (reference queryHasResult, index.js:503-507). It fails only if the body is not JSON.
func hasEdges(body []byte) (bool, error) {
	v := []byte(jsjson.DecodeUTF8(body))
	for _, key := range []string{"data", "transactions", "edges"} {
		var ok bool
		var err error
		if v, ok, err = jsjson.Member(v, key); err != nil || !ok {
			return false, err // a missing member, or one of null, a number, ..., is undefined here
		}
	}
	// edges.length: the element count of an array, the length of a string, a member of an object; undefined
	// for anything else.
	switch v[0] {
	case '[':
		return bytes.TrimLeft(v[1:], " \t\n\r")[0] != ']', nil
	case '"':
		return len(v) > len(`""`), nil
	case '{':
		length, ok, _ := jsjson.Member(v, "length")
		return ok && jsjson.Truthy(length), nil
	}
	return false, nil
}
