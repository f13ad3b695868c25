"""The cdktf app named in cdktf.json: `cdktf synth` / `cdktf deploy` run this."""

from tritonform.synth import cdktf_app_main

if __name__ == "__main__":
    cdktf_app_main()
