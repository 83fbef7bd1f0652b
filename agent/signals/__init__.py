"""Signal sources: where a service's named signals are read from (PromQL, HTTP JSON probes, log probes).

Each source is one small interface (`SignalSource.read`); the reader merges what they return into one
`Symptoms` snapshot with each value's unit and provenance.
"""
