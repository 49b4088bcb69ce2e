"""Urge insights: where a shop's urges come from, surges that reveal a bottleneck, how fast agents answer.

- ``events``: one redacted, shop-scoped row per stored draft (``record``) and its response times.
- ``queries``: the breakdowns, repeat urgers, response-time percentiles and approval shares.
- ``surges``: the statistical rule that turns an improbable hour into an alert.
- ``alerts``: storing an alert once and delivering it to the shop's webhook.
- ``service``: the one object the API, the CLI and the simulator call.
"""
