-- AES content encryption (接口内容加密): the app's key, base64, when it has one. Requests with
-- encrypt_type=AES are decrypted with it and their answers encrypted.
ALTER TABLE apps ADD COLUMN aes_key TEXT;
