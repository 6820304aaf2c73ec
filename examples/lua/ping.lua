-- The asking side: Start sends Rounds pings to Peer, one after the other.
-- ao.send(...).receive() suspends the handler (a coroutine) until the reply
-- arrives in a later message; the loop then goes on from where it stopped.
Pongs = Pongs or {}
Done = Done or false

Handlers.add("Start", "Start", function (msg)
  local peer = msg.Peer
  local rounds = tonumber(msg.Rounds or "3")
  for i = 1, rounds do
    local reply = ao.send({ Target = peer, Action = "Ping", Data = tostring(i) }).receive()
    table.insert(Pongs, reply.Data)
  end
  Done = true
  print("received " .. #Pongs .. " pongs")
end)

Handlers.add("Status", "Status", function (msg)
  msg.reply({ Data = require('json').encode({ done = Done, pongs = Pongs }) })
end)
