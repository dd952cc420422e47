//! CO-RE: relocating field offsets, type ids and enum values against a target BTF.
