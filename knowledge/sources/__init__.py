"""Where a shop's live order facts come from, and how they stay fresh.

- ``config.py``    which source a shop uses and its credentials (encrypted at rest, write-only)
- ``secretbox.py`` the Fernet box that encrypts credentials under REPLYDESK_SECRET_KEY
- ``taobao.py``    Taobao Open Platform (TOP): trade.fullinfo.get + logistics.trace.search
- ``jushuitan.py`` Jushuitan (聚水潭) ERP open API: orders/single/query
- ``http.py``      the shop's own endpoint returning order-facts JSON (or JSON + a field mapping)
- ``upstream.py``  what every adapter shares: the fetched result, retries with backoff, time parsing
- ``cache.py``     the short-TTL facts cache (Redis or the database) with single-flight fetches
- ``events.py``    pushed order events (signed, idempotent by event id)
- ``router.py``    ``OrderSources``: the order source the pipeline uses, per shop
- ``telemetry.py`` counters and last success/error per source, for /metrics and /readyz
"""
