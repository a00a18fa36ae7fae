// Package hub downloads models from the Hugging Face Hub into the same cache
// the Python libraries (huggingface_hub, transformers) use, so that a model
// pulled by hone is found by Python tools and the other way round.
//
// The cache layout is huggingface_hub's:
//
//	$HF_HUB_CACHE/models--org--name/
//	    blobs/<etag>                       file contents, named by sha256 (LFS) or git blob sha1
//	    refs/<revision>                    the commit a branch or tag pointed to when last pulled
//	    snapshots/<commit>/<file>          relative symlinks into ../../blobs
//
// Downloads go to blobs/<etag>.incomplete, resume with HTTP Range requests
// after an interruption, retry with exponential backoff on network errors,
// 429 and 5xx, and are checked against the Hub's metadata (sha256 for LFS
// files, the git blob sha1 otherwise) before they are renamed into place: a
// corrupted download never enters the cache. HF_TOKEN (or the token file
// huggingface-cli login writes) authorises gated and private repositories,
// HF_ENDPOINT points at a mirror and HF_HUB_OFFLINE=1 answers from the cache
// alone.
//
// No Go library implements this cache layout and its resume semantics (the
// reference is the Python huggingface_hub package), hence this package: it
// needs only net/http and the standard hashes.
//
// Nothing here prints: progress goes through the Progress callback.
package hub
