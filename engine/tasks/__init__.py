"""The work on tasks around the core: inbox lists, operations people do on a task or a request
(transfer, delegate, copy, urge, withdraw), and the reads of done tasks."""
