"""Payment batches to providers: claims, capitation and recoveries netted, drafted by a maker, approved by a checker."""
