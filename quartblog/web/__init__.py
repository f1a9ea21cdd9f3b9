"""Web plumbing below the blueprints: the app class (``application``), each request one
unit of work (``unit_of_work``), the schema check (``startup``), URLs and converters
(``routing``), the one error handler (``errors``), rate limits (``limits``), the health
probe (``health``), uploaded media (``media``), the cache and the whole-response cache
(``cache``, ``response_cache``) and buffered visit counts (``visits``)."""
