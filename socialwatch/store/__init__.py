"""The store: the only SQL. One SQLite database (WAL) with a connection per unit of work.

``db`` opens it and migrates it (``schema`` holds every migration in one ordered list); each other module
is one family of tables and the plain functions over it, taking the ``Store``, so the imports say which
feature touches which tables."""
