--[[
  Key builders for keys a script reaches through another record (a job key's waiting
  batches). Mirrors ledger/keys.ts; test/ledger.test.ts checks the two agree.
  Every script passes the ledger root ("mediaq:") as ARGV[1].
]]
local ROOT = ARGV[1]
local OUTBOX = ROOT .. 'outbox'
local function jobKeyOf(jobKey) return ROOT .. 'job:' .. jobKey end
local function waitersKeyOf(jobKey) return ROOT .. 'job:' .. jobKey .. ':waiters' end
local function resultKeyOf(jobKey) return ROOT .. 'result:' .. jobKey end
local function segmentsKeyOf(jobKey) return ROOT .. 'segments:' .. jobKey end
local function batchKeyOf(id) return ROOT .. 'batch:' .. id end
local function itemsKeyOf(id) return ROOT .. 'batch:' .. id .. ':items' end
local function namesKeyOf(id) return ROOT .. 'batch:' .. id .. ':names' end
local function countsKeyOf(id) return ROOT .. 'batch:' .. id .. ':counts' end
local function cancelledKeyOf(id) return ROOT .. 'batch:' .. id .. ':cancelled' end
local function eventsKeyOf(id) return ROOT .. 'batch:' .. id .. ':events' end
local function stateEventsKeyOf(id) return ROOT .. 'batch:' .. id .. ':state' end
local WEBHOOKS_DUE = ROOT .. 'webhooks:due'
local function batchWebhooksKeyOf(id) return ROOT .. 'webhooks:batch:' .. id end
local function webhookReaderKeyOf(id) return ROOT .. 'webhooks:batch:' .. id .. ':reader' end
local function tenantWebhooksKeyOf(tenant) return ROOT .. 'webhooks:tenant:' .. tenant end
local function webhookKeyOf(id) return ROOT .. 'webhook:' .. id end
