-- A clock, installed at boot (On-Boot = Data) so that the very first tick
-- finds its handler. The CU generates a Tick message every second (tags
-- Cron-Interval = 1-second, Cron-Tag-Action = Tick). Each Tick sends the
-- process a Tock with the tick's number: that message is in the outbox of a
-- cron result, which only a MU that monitors the process pushes.
Ticks = Ticks or 0
Tocks = Tocks or {}   -- tick number -> how many times its Tock arrived

Handlers.add("Tick", "Tick", function (msg)
  Ticks = Ticks + 1
  ao.send({ Target = ao.id, Action = "Tock", Data = tostring(Ticks) })
end)

Handlers.add("Tock", "Tock", function (msg)
  Tocks[msg.Data] = (Tocks[msg.Data] or 0) + 1
end)

Handlers.add("Clock", "Clock", function (msg)
  msg.reply({ Data = require('json').encode({ ticks = Ticks, tocks = Tocks }) })
end)
