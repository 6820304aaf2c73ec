-- The child's code, run once at boot. Its Owner is the parent process (the
-- From-Process of its spawn).
Handlers.add("Hello", "Hello", function (msg)
  msg.reply({ Data = "hello from " .. ao.id .. ", child of " .. Owner })
end)
