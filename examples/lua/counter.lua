-- A counter, installed at boot: the process's own Data is this code and its
-- tag On-Boot = Data makes aos evaluate it while handling the Process
-- message itself (AOP-6), so no Eval is needed.
Count = Count or 0

Handlers.add("Increment", "Increment", function (msg)
  Count = Count + 1
  msg.reply({ Data = tostring(Count) })
end)

Handlers.add("Count", "Count", function (msg)
  msg.reply({ Data = tostring(Count) })
end)

print("counter ready")
