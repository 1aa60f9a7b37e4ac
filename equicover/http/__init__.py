"""HTTP plumbing shared by every router: the request's unit of work, paging, limits, error bodies."""
