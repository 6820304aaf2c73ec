-- The token of seed 003, plus a Balance handler to read balances.
-- Owner (the wallet that spawned the process) holds the whole supply.
Name = "MyToken"
Ticker = "MTK"
Denomination = 12
-- 10^12 is a float in Lua 5.3: math.tointeger keeps the supply (10^18) an
-- exact integer, so that balances are exact after transfers.
TotalSupply = math.tointeger(1000000 * 10^Denomination)
Balances = Balances or { [Owner] = TotalSupply }

Handlers.add(
  "Transfer",
  Handlers.utils.hasMatchingTag("Action", "Transfer"),
  function(msg)
    local target = msg.Tags.Recipient
    local quantity = math.tointeger(tonumber(msg.Tags.Quantity))
    assert(type(target) == 'string', 'Recipient is required!')
    assert(quantity and quantity > 0, 'Quantity must be a positive integer!')
    if Balances[msg.From] and Balances[msg.From] >= quantity then
      Balances[msg.From] = Balances[msg.From] - quantity
      Balances[target] = (Balances[target] or 0) + quantity
      -- Emit events
      ao.send({ Target = msg.From, Data = "Transfer successful" })
      ao.send({ Target = target, Data = "Tokens received" })
    else
      ao.send({ Target = msg.From, Data = "Insufficient balance" })
    end
  end
)

-- Balance: the balance of the Account tag (or of the sender), as a string.
Handlers.add(
  "Balance",
  Handlers.utils.hasMatchingTag("Action", "Balance"),
  function(msg)
    local account = msg.Tags.Account or msg.From
    msg.reply({ Account = account, Balance = tostring(Balances[account] or 0), Ticker = Ticker })
  end
)
