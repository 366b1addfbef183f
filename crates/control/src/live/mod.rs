//! MediaLive resources: inputs and channels (their documents, validation and
//! lifecycle). The channel engine is not part of this module.
