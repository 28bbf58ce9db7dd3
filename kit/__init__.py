"""The plugin kit: helpers any plugin may use, built-in or third-party.

Layer: between the core and the plugins. It imports the core's public names and the
plugins' libraries, never a plugin; it runs on whichever thread calls it. The folder
``kit/`` is installed as ``univac.kit``, beside ``univac.plugins`` rather than inside
it: every name in ``univac.plugins`` is a plugin name for the loader, so a kit there
would be taken for a plugin called "kit" (and hide an installed plugin of that name).

Import names from the module that holds them (the package itself exports nothing), so
a plugin loads only what it uses and its import lines say where each name comes from::

    from univac.kit.fetch import FetchError, Guard, Limits, fetch
    from univac.kit.text import one_line

- ``fetch``: outbound HTTP with timeouts, a size cap, checked redirects, and the
  address guard against request forgery; the rate-limit arithmetic of REST services.
- ``watch``: "announce only new items" for pollers (the seen index in ``ctx.state``,
  announcements with a summary line, the poll interval and rate-limit pauses).
- ``rest``: a watcher for paginated JSON lists of a REST service (ETags, ``Link``
  pages, rate-limit headers), the part the github and gitlab plugins share.
- ``webhook``: webhook signatures (``X-Hub-Signature-256``), bearer tokens, body
  limits, and the memory of handled deliveries that refuses replays.
- ``alerts``: Alertmanager and PagerDuty v3 payloads read into one ``Alert`` type, and
  PagerDuty's webhook signature.
- ``text``: make untrusted text one safe chat line.

None of these modules registers a handler. docs/kit.md shows each part with an example.
"""
