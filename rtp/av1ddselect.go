package rtp

// Decode target selection: which decode targets a down-track forwards, and
// whether a frame belongs to them.

// DecodeTargetLayer returns the layers of decode target i: the highest
// spatial and the highest temporal id of the templates that are part of it
// (whose DTI for it is not DTINotPresent). ok is false when i is out of
// range or no template is part of it.
func (s *DDStructure) DecodeTargetLayer(i int) (spatial, temporal uint8, ok bool) {
	if !s.inRange() || i < 0 || i >= int(s.NumDecodeTargets) {
		return 0, 0, false
	}
	for _, t := range s.Templates[:s.NumTemplates] {
		if t.DTIs.At(i) == DTINotPresent {
			continue
		}
		spatial, temporal, ok = max(spatial, t.Spatial), max(temporal, t.Temporal), true
	}
	return spatial, temporal, ok
}

// DecodeTargetsUpTo returns the mask of the decode targets a receiver can
// decode when it gets the frames of spatial layers up to maxSpatial and
// temporal layers up to maxTemporal: those whose layers
// (DecodeTargetLayer) are within both. It is the mask to forward with
// DDRewrite, once limited to the decode targets the sender says are
// active.
func (s *DDStructure) DecodeTargetsUpTo(maxSpatial, maxTemporal uint8) uint32 {
	var mask uint32
	for i := range int(min(s.NumDecodeTargets, MaxDDDecodeTargets)) {
		sp, tl, ok := s.DecodeTargetLayer(i)
		if ok && sp <= maxSpatial && tl <= maxTemporal {
			mask |= 1 << i
		}
	}
	return mask
}

// Targets returns the mask of the decode targets t says the frame is part
// of: bit i set when the DTI for decode target i is not DTINotPresent.
func (t DTIs) Targets() uint32 {
	// Fold each two-bit DTI onto its low bit, then gather the low bits.
	x := uint64(t|t>>1) & 0x5555555555555555
	x = (x | x>>1) & 0x3333333333333333
	x = (x | x>>2) & 0x0f0f0f0f0f0f0f0f
	x = (x | x>>4) & 0x00ff00ff00ff00ff
	x = (x | x>>8) & 0x0000ffff0000ffff
	x = (x | x>>16) & 0x00000000ffffffff
	return uint32(x)
}

// InDecodeTargets reports whether d's frame is part of at least one of the
// decode targets in mask: a down-track that forwards those decode targets
// forwards the packet, and may drop it otherwise.
func (d *DependencyDescriptor) InDecodeTargets(mask uint32) bool {
	return d.DTIs.Targets()&mask != 0
}
