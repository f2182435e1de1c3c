"""The boundary to the inference module in site/engine/: the contract and the FFI bridge."""
