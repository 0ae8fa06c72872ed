"""Training stages on the Hugging Face stack: CPT (transformers Trainer), SFT and DPO (TRL)."""
