//! MediaPackage v1 resources: packaging channels (with HLS ingest endpoints)
//! and origin endpoints.
