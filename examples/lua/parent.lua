-- A parent that spawns children. SpawnChild's Data is the child's Lua code,
-- which the child runs at boot (On-Boot = Data). Spawn(...).receive() waits
-- for the Spawned message the MU sends back once the child exists; its
-- Process tag is the child's id. The parent then says Hello to the child and
-- waits for its answer.
Children = Children or {}
Greetings = Greetings or {}

Handlers.add("SpawnChild", "SpawnChild", function (msg)
  local spawned = Spawn(ao.env.Module.Id, {
    Data = msg.Data,
    Tags = {
      ["On-Boot"] = "Data",
      -- the child must trust the MU too: it receives pushed messages only
      Authority = table.concat(ao.authorities, ","),
      Name = "child-" .. (#Children + 1),
    },
  }).receive()
  local child = spawned.Process
  table.insert(Children, child)
  local answer = Send({ Target = child, Action = "Hello" }).receive()
  Greetings[child] = answer.Data
end)

Handlers.add("Family", "Family", function (msg)
  msg.reply({ Data = require('json').encode({ children = Children, greetings = Greetings }) })
end)
