package mu

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aocu/aocu/internal/arweave"
)

// payload is what a task needs besides its item.
type payload struct {
	// Process: result: the process evaluated; message and spawn: the
	// sender (the process whose outbox it is); spawned: the parent; assign:
	// the process assigned to.
	Process string `json:"process,omitempty"`
	// Message: result: the message whose result to crank; assign: the
	// message assigned.
	Message string `json:"message,omitempty"`
	// PushedFor is the Pushed-For tag value ("" for none).
	PushedFor string `json:"pushedFor,omitempty"`
	// Out is the outbox entry (message and spawn) or the spawn (spawned).
	Out json.RawMessage `json:"out,omitempty"`
	// Child is the spawned process (spawned).
	Child     string   `json:"child,omitempty"`
	Exclude   []string `json:"exclude,omitempty"`
	BaseLayer bool     `json:"baseLayer,omitempty"`
	// Assignments are the processes of an outbox message's Assignments tag:
	// the pushed message is assigned to them too.
	Assignments []string `json:"assignments,omitempty"`
}

func (p *payload) marshal() ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("mu: encode task payload: %w", err)
	}
	return b, nil
}

func (p *payload) unmarshal(b []byte) error {
	if err := json.Unmarshal(b, p); err != nil {
		return fmt.Errorf("mu: decode task payload: %w", err)
	}
	return nil
}

// cuResult is the part of a CU result the MU cranks.
type cuResult struct {
	Messages    []json.RawMessage `json:"Messages"`
	Spawns      []json.RawMessage `json:"Spawns"`
	Assignments []json.RawMessage `json:"Assignments"`
}

// outMessage is an outbox message or spawn as the CU returns it.
type outMessage struct {
	Target *string          `json:"Target"`
	Anchor *string          `json:"Anchor"`
	Tags   []arweave.Tag    `json:"Tags"`
	Data   *json.RawMessage `json:"Data"`
}

// outAssignment is an outbox assignment.
type outAssignment struct {
	Processes []string `json:"Processes"`
	Message   string   `json:"Message"`
	Exclude   []string `json:"Exclude"`
	BaseLayer bool     `json:"BaseLayer"`
}

// parseOutMessage decodes an outbox message with the checks of the
// reference MU: its CU client drops a message whose Tags are not an array of
// string names and values or whose Target or Anchor is not a string or null
// (messageSchema), then pull-result drops one without a Target, Anchor or
// Tags key. A null or empty Target cannot be delivered and is dropped too.
func parseOutMessage(raw json.RawMessage) (*outMessage, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	for _, k := range []string{"Target", "Anchor", "Tags"} {
		if _, ok := keys[k]; !ok {
			return nil, fmt.Errorf("no %s", k)
		}
	}
	var m outMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("malformed (Tags must be [{name, value}] of strings; Target and Anchor strings): %v", err)
	}
	if m.Tags == nil {
		return nil, fmt.Errorf("Tags is not an array")
	}
	if m.Target == nil || *m.Target == "" {
		return nil, fmt.Errorf("no Target")
	}
	return &m, nil
}

// parseOutSpawn decodes an outbox spawn (it needs Tags).
func parseOutSpawn(raw json.RawMessage) (*outMessage, error) {
	var m outMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("malformed spawn: %v", err)
	}
	if m.Tags == nil {
		return nil, fmt.Errorf("spawn without Tags")
	}
	return &m, nil
}

// itemData is the data of an item built from an outbox entry: a string as
// is, other JSON values as their JSON text, and, as the reference MU's
// buildAndSign (data || ' '), a single space for none.
func itemData(d *json.RawMessage) []byte {
	var out []byte
	if d != nil {
		var s string
		if err := json.Unmarshal(*d, &s); err == nil {
			out = []byte(s)
		} else if string(*d) != "null" {
			out = []byte(*d)
		}
	}
	if len(out) == 0 {
		return []byte(" ")
	}
	return out
}

func firstTag(tags []arweave.Tag, name string) (string, bool) {
	for _, t := range tags {
		if t.Name == name {
			return t.Value, true
		}
	}
	return "", false
}

func without(tags []arweave.Tag, drop func(arweave.Tag) bool) []arweave.Tag {
	out := make([]arweave.Tag, 0, len(tags)+6)
	for _, t := range tags {
		if !drop(t) {
			out = append(out, t)
		}
	}
	return out
}

func tag(name, value string) arweave.Tag { return arweave.Tag{Name: name, Value: value} }

// messageTags are the tags of a pushed outbox message, as the reference MU's
// build-tx: the message's own tags without Data-Protocol, Type,
// From-Process, From-Module and Assignments, then Data-Protocol=ao,
// Type=Message, From-Process, From-Module and, when known, Pushed-For.
func messageTags(msgTags []arweave.Tag, fromProcess, fromModule, pushedFor string) []arweave.Tag {
	out := without(msgTags, func(t arweave.Tag) bool {
		switch t.Name {
		case "Data-Protocol", "Type", "From-Process", "From-Module", "Assignments":
			return true
		}
		return false
	})
	out = append(out,
		tag("Data-Protocol", "ao"),
		tag("Type", "Message"),
		tag("From-Process", fromProcess),
		tag("From-Module", fromModule))
	if pushedFor != "" {
		out = append(out, tag("Pushed-For", pushedFor))
	}
	return out
}

// assignmentsTag reads the processes of an outbox message's Assignments tag:
// a JSON array of ids or a comma-separated list. (The reference MU handles
// only an array there, which a tag value, a string, never is.)
func assignmentsTag(tags []arweave.Tag) []string {
	v, ok := firstTag(tags, "Assignments")
	if !ok {
		return nil
	}
	v = strings.TrimSpace(v)
	var ids []string
	if strings.HasPrefix(v, "[") {
		if json.Unmarshal([]byte(v), &ids) == nil {
			return nonEmpty(ids)
		}
	}
	return nonEmpty(strings.Split(v, ","))
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func variantOf(tags []arweave.Tag) string {
	if v, _ := firstTag(tags, "Variant"); v == "ao.N.1" {
		return "ao.N.1"
	}
	return "ao.TN.1"
}

// spawnTags are the tags of the Process item of an outbox spawn, as the
// reference MU's spawn-process: the spawn's tags without Data-Protocol and
// Type (a Variant or From-Process of the spawn stays, so aos spawns carry
// those twice, as from the reference), then Variant (ao.N.1 kept, else
// ao.TN.1), Data-Protocol=ao, Type=Process, From-Process=parent, Pushed-For
// when known, Scheduler=the parent's scheduler when the spawn names none;
// every From-Module is set to the parent's Module.
func spawnTags(spawn []arweave.Tag, parent, parentModule, parentScheduler, pushedFor string) ([]arweave.Tag, error) {
	if _, ok := firstTag(spawn, "Module"); !ok {
		return nil, fmt.Errorf("no Module tag found on 'Process' DataItem")
	}
	out := without(spawn, func(t arweave.Tag) bool { return t.Name == "Data-Protocol" || t.Name == "Type" })
	out = append(out,
		tag("Variant", variantOf(spawn)),
		tag("Data-Protocol", "ao"),
		tag("Type", "Process"),
		tag("From-Process", parent))
	if pushedFor != "" {
		out = append(out, tag("Pushed-For", pushedFor))
	}
	if _, ok := firstTag(out, "Scheduler"); !ok {
		out = append(out, tag("Scheduler", parentScheduler))
	}
	for i := range out {
		if out[i].Name == "From-Module" {
			out[i].Value = parentModule
		}
	}
	return out, nil
}

// spawnedTags are the tags of the Spawned message sent to the parent, as the
// reference MU's build-success-tx: the spawn's tags without Data-Protocol=ao,
// Variant and Type, then Data-Protocol=ao, Type=Message, Process=<the new
// process>, Action=Spawned and Variant (ao.N.1 kept, else ao.TN.1).
func spawnedTags(spawn []arweave.Tag, child string) []arweave.Tag {
	out := without(spawn, func(t arweave.Tag) bool {
		return (t.Name == "Data-Protocol" && t.Value == "ao") || t.Name == "Variant" || t.Name == "Type"
	})
	return append(out,
		tag("Data-Protocol", "ao"),
		tag("Type", "Message"),
		tag("Process", child),
		tag("Action", "Spawned"),
		tag("Variant", variantOf(spawn)))
}
