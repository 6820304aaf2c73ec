-- The answering side: every Ping is answered with msg.reply, which targets
-- the sender and carries X-Reference = the Ping's Reference, so that the
-- sender's .receive() picks the answer up.
Pings = Pings or 0

Handlers.add("Ping", "Ping", function (msg)
  Pings = Pings + 1
  msg.reply({ Action = "Pong", Data = "pong " .. msg.Data })
end)

Handlers.add("Count", "Count", function (msg)
  msg.reply({ Data = tostring(Pings) })
end)
