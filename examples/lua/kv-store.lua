-- A key-value store (seed 004): Set stores Value under Key, Get answers the
-- value in a Value tag. Loaded into a running process with Action=Eval.
local ao = require('ao')

Store = Store or {}

Handlers.add(
  "Get",
  Handlers.utils.hasMatchingTag("Action", "Get"),
  function (msg)
    assert(type(msg.Key) == 'string', 'Key is required!')
    ao.send({ Target = msg.From, Tags = { Value = Store[msg.Key] }})
  end
)

Handlers.add(
  "Set",
  Handlers.utils.hasMatchingTag("Action", "Set"),
  function (msg)
    assert(type(msg.Key) == 'string', 'Key is required!')
    assert(type(msg.Value) == 'string', 'Value is required!')
    Store[msg.Key] = msg.Value
    Handlers.utils.reply("Value stored!")(msg)
  end
)
