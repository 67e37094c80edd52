package registry

import (
	"bytes"
	"encoding/json"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v2/pkg/oci"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
)

// cachedSignatures builds the signatures of the signature manifest d of repo from the cache
// alone, when it holds the manifest and every layer: what ociremote.Signatures and static.Copy
// make of them, without a request's worth of client machinery per blob (on a no-op watch that
// machinery cost more CPU than the signature check). Anything unusual (a blob missing, an
// annotation that does not parse, more layers than cosign reads, cosign's attachment size
// limit set) reports ok false, and the caller reads the signature through the registry
// client as before, where cosign's own checks and errors apply. The signatures are then
// verified as always: the cache only stands in for bytes already checked against their
// digests.
func (c *diskCache) cachedSignatures(repo string, d v1.Hash) (sigs []oci.Signature, ok bool) {
	if os.Getenv("COSIGN_MAX_ATTACHMENT_SIZE") != "" {
		return nil, false
	}
	rec, ok := c.readRecord(repo, d)
	if !ok || (rec.MediaType != string(types.OCIManifestSchema1) && rec.MediaType != string(types.DockerManifestSchema2)) {
		return nil, false
	}
	m, err := v1.ParseManifest(bytes.NewReader(rec.Data))
	if err != nil || len(m.Layers) > maxSignatureLayers {
		return nil, false
	}
	for _, desc := range m.Layers {
		blob, ok := c.readRecord(repo, desc.Digest)
		if !ok || int64(len(blob.Data)) != desc.Size {
			return nil, false
		}
		s, err := staticSignature(blob.Data, desc)
		if err != nil {
			return nil, false
		}
		sigs = append(sigs, s)
	}
	return sigs, true
}

// maxSignatureLayers is the most layers cosign reads from a signature manifest.
const maxSignatureLayers = 1000

// staticSignature is the signature a layer (desc, with payload its bytes) carries, as
// static.Copy makes it of cosign's own reading of the layer.
func staticSignature(payload []byte, desc v1.Descriptor) (oci.Signature, error) {
	ann := desc.Annotations
	b64sig, ok := ann[static.SignatureAnnotationKey]
	if !ok {
		return nil, errNotCosignSigned
	}
	opts := []static.Option{static.WithLayerMediaType(desc.MediaType), static.WithAnnotations(ann)}
	if v := ann[static.BundleAnnotationKey]; v != "" {
		var b bundle.RekorBundle
		if err := json.Unmarshal([]byte(v), &b); err != nil {
			return nil, err
		}
		opts = append(opts, static.WithBundle(&b))
	}
	if v := ann[static.RFC3161TimestampAnnotationKey]; v != "" {
		var ts bundle.RFC3161Timestamp
		if err := json.Unmarshal([]byte(v), &ts); err != nil {
			return nil, err
		}
		opts = append(opts, static.WithRFC3161Timestamp(&ts))
	}
	if cert := ann[static.CertificateAnnotationKey]; cert != "" {
		opts = append(opts, static.WithCertChain([]byte(cert), []byte(ann[static.ChainAnnotationKey])))
	}
	return static.NewSignature(payload, b64sig, opts...)
}
