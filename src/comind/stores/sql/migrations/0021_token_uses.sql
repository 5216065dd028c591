-- Where each token was written: `scope` is the dataset and field (`dataset/NAME/FIELD`, or
-- `flow/NAME/FIELD` for an anonymize step). A token joins across datasets (one value, one
-- token), but detokenizing asks for one dataset's field: only a token written there comes
-- back, so an operator of one app cannot open the tokens of another app's datasets.
CREATE TABLE comind.pii_token_uses (
    token text NOT NULL REFERENCES comind.pii_tokens (token),
    scope text NOT NULL,
    PRIMARY KEY (token, scope)
);
